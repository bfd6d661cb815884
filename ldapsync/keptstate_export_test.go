package ldapsync

import (
	"context"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// keptState decodes the state s keeps between runs through its spans,
// record by record (reading the store when the encoding is not kept in
// memory), checking that every record is found where the spans say.
func keptState(t *testing.T, s *Syncer) State {
	t.Helper()
	c := s.saved
	require.NotNil(t, c, "a state is kept")
	buf := c.enc.buf
	if buf == nil {
		b, _, err := encodedStoreOf(s.store).storedBytes(context.Background())
		require.NoError(t, err)
		require.True(t, c.holds(b), "the store holds the kept state")
		buf = b
	}
	enc := *c.enc
	enc.buf = buf
	require.True(t, slices.IsSortedFunc(enc.spans, func(a, b encSpan) int {
		if a.h < b.h {
			return -1
		}
		if a.h > b.h {
			return 1
		}
		return 0
	}), "spans in hash order")
	st := State{Version: StateVersion, Watermark: c.wm}
	for i, sp := range enc.spans {
		id, o, err := enc.objectAt(i)
		require.NoError(t, err)
		require.Equal(t, keyHash(id), sp.h)
		require.Equal(t, i, enc.find(id))
		if st.Objects == nil {
			st.Objects = map[string]*ObjectState{}
		}
		st.Objects[id] = o
	}
	return withMaps(st) // as a caller's Load has it
}

// keptDecoded counts the objects and records s keeps decoded between
// runs.
func keptDecoded(s *Syncer) (objects int) {
	if s.saved == nil {
		return 0
	}
	if s.saved.full != nil {
		objects += len(s.saved.full.Objects)
	}
	return objects + len(s.saved.objs)
}

// wholeNextOf returns the whole state an outcome saves.
func wholeNextOf(t *testing.T, out *outcome) State {
	t.Helper()
	if out.base == nil {
		return withMaps(out.next)
	}
	next, err := out.wholeNext()
	require.NoError(t, err)
	return withMaps(next) // records as a caller's Load has them
}

// mapChanges returns changes with the users' packed attributes as maps
// (see attrBlock), for comparing plans made from records of either form.
func mapChanges(cs []Change) []Change {
	out := make([]Change, len(cs))
	for i, c := range cs {
		if c.User != nil && c.User.Attributes == nil && c.User.attrs != "" {
			u := *c.User
			u.Attributes, u.attrs = u.attrs.toMap(), ""
			c.User = &u
		}
		out[i] = c
	}
	return out
}

// madeChanges returns the changes of a lean plan with their users made as
// a run makes them when writing (see commit).
func madeChanges(out *outcome) []Change {
	cs := make([]Change, len(out.changes))
	for i, c := range out.changes {
		if c.encoded {
			u := out.idx.pol.user(c.ID, out.next.Objects[c.ID].Source)
			u.Groups = c.groups
			c.User, c.DN, c.groups, c.encoded = &u, u.DN, nil, false
		}
		cs[i] = c
	}
	return cs
}
