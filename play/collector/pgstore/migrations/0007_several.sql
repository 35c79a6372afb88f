-- A file holding several recordings (tlog's single-file layout, or a
-- host's crafting): search reads each of them, as vigil-play search does.
ALTER TABLE recordings ADD COLUMN several boolean NOT NULL DEFAULT false;
