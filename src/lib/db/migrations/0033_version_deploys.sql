-- Flows as files (issue 25): a version made by `stitch deploy` says so, with the deploy's message
-- (`--message`, e.g. the commit's), so the canvas can tell a reviewed change from a save on the canvas.
ALTER TABLE stitch_flow_versions
  ADD COLUMN deployed boolean NOT NULL DEFAULT false,
  ADD COLUMN message text CHECK (char_length(message) <= 1000);
