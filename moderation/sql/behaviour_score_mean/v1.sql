-- A behaviour score from its window: the mean of `severities` severity scores whose hundredths sum to
-- `hundredths_total`, rounded half up to 2 decimals. numeric all the way: the total is exact and so is the rounding.
CREATE FUNCTION behaviour_score_mean(hundredths_total numeric, severities bigint) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT round(hundredths_total / severities / 100, 2)::float8
$$;
