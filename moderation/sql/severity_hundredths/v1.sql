-- A severity score in hundredths, the unit windows and their totals keep (evaluation_latest_scores): sums of
-- integers, so a mean rounds exactly. Half up, exactly as numeric rounding (0.125 is 13, where float8's round()
-- would give 12). A severity within 1e-9 of a whole number of hundredths (every one the ingest paths store: they
-- round to 2 decimals) takes float arithmetic, ~0.1 us; numeric then gives the same number, since float8 -> numeric
-- moves a value by less than 1e-13. Any other takes numeric, ~1 us: ~3 ms of a 1,000-row batch if every row did.
CREATE FUNCTION severity_hundredths(severity float8) RETURNS smallint LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN abs(severity * 100 - round(severity * 100)) < 1e-9 THEN round(severity * 100)::smallint
        ELSE round(severity::numeric * 100)::smallint
    END
$$;
