-- A severity score in hundredths, the unit windows and their totals keep (evaluation_latest_scores): sums of
-- integers, so a mean rounds exactly. numeric, not float8: half up exactly (0.125 is 13), as the triggers always did.
CREATE FUNCTION severity_hundredths(severity float8) RETURNS smallint LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT round(severity::numeric * 100)::smallint
$$;
