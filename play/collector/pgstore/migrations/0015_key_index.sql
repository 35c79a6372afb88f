-- A host's key is looked up by its id at every request of the host whose
-- key the collector has not seen yet: an index, not a scan of every
-- host's keys.
CREATE INDEX host_keys_key_id ON host_keys (key_id);
