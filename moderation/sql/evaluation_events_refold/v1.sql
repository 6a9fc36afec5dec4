-- An UPDATE that writes a new embedding takes the next fold_seq, so the row moves to the unfolded tail and
-- fold_embeddings puts it into a graph with the rest, in bulk. Left where it was, the row would be inserted into
-- its part's graph by the UPDATE itself (~7 ms a row at 1024 dimensions): a backfill of embeddings onto rows
-- already folded, or onto the rows stored before fold_seq, would run at ~140 rows/s.
CREATE FUNCTION evaluation_events_refold() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.fold_seq := nextval('evaluation_events_fold_seq');
    RETURN NEW;
END $$;
