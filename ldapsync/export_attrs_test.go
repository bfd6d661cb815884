package ldapsync

// KeptRecordPacked reports, for object id of the state s keeps between
// runs, whether its record holds its attributes packed (no map), and the
// attributes.
func KeptRecordPacked(s *Syncer, id string) (packed bool, attrs map[string][]string, ok bool) {
	c := s.saved
	if c == nil || c.enc == nil {
		return false, nil, false
	}
	i := c.enc.find(id)
	if i < 0 {
		return false, nil, false
	}
	_, o, err := c.enc.objectAt(i)
	if err != nil || o.Source == nil {
		return false, nil, false
	}
	attrs = o.Source.Attributes
	if attrs == nil {
		attrs = o.Source.attrs.toMap()
	}
	return o.Source.Attributes == nil && o.Source.attrs != "", attrs, true
}
