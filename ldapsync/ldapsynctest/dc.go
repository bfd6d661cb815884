package ldapsynctest

import (
	"fmt"
	"maps"
	"sort"
	"strings"
)

// Backup is a copy of the directory's data taken by [Directory.Backup].
type Backup struct {
	objs map[GUID]*object
	usn  int64
}

func (o *object) clone() *object {
	c := *o
	c.attrs = make(map[string]*attr, len(o.attrs))
	for k, a := range o.attrs {
		c.attrs[k] = &attr{name: a.name, vals: append([]string(nil), a.vals...)}
	}
	c.members = append([]GUID(nil), o.members...)
	return &c
}

func cloneObjects(src map[GUID]*object) map[GUID]*object {
	out := make(map[GUID]*object, len(src))
	for g, o := range src {
		out[g] = o.clone()
	}
	return out
}

// Backup copies the directory's objects and USN counter, as a system-state
// backup of the domain controller would.
func (d *Directory) Backup() *Backup {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return &Backup{objs: cloneObjects(d.objs), usn: d.usn}
}

// Restore puts the directory back to the state of b, as restoring the
// domain controller from that backup does: every change since the backup
// is gone, highestCommittedUSN goes back to the backup's value (so new
// writes reuse USNs a client may already have seen), and the DC gets a new
// invocation ID, which is how a client can tell. dsServiceName stays. The
// same Backup may be restored more than once.
func (d *Directory) Restore(b *Backup) error {
	if b == nil || b.objs == nil {
		return opErr("Restore", "", fmt.Errorf("%w: nil backup", ErrInvalid))
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.objs = cloneObjects(b.objs)
	d.usn = b.usn
	d.reindex()
	inv := newGUID()
	d.dsa.set("invocationId", string(inv[:]))
	d.clearPages()
	return nil
}

// reindex rebuilds byDN and the pointers to well-known objects after the
// object map was replaced.
func (d *Directory) reindex() {
	d.byDN = make(map[string]*object, len(d.objs))
	d.sams = map[string]*object{}
	delNDN := mustNormDN("CN=Deleted Objects," + d.base)
	for _, o := range d.objs {
		d.byDN[o.ndn] = o
		d.indexSAM(o)
		switch {
		case o.kind == kindDSA:
			d.dsa = o
			if _, v, p, err := splitDN(o.dn); err == nil && v != "" {
				if _, name, _, err := splitDN(p); err == nil {
					d.serverName = name
				}
			}
		case o.ndn == delNDN:
			d.deletedObjects = o
		}
	}
}

func (d *Directory) clearPages() {
	d.pmu.Lock()
	d.pages = map[string]*pagedSearch{}
	d.pageOrder = nil
	d.pmu.Unlock()
}

// switchDCStartUSN is where the USN counter of a DC reached by SwitchDC
// starts: below the 12000 a directory starts at, so a watermark carried
// over from the previous DC would hide changes.
const switchDCStartUSN = 4000

// SwitchDC makes the directory answer as another domain controller, name,
// of the same domain, as when a client fails over: dsServiceName and
// invocation ID change, and USNs are that DC's own. Every object's
// uSNCreated and uSNChanged are renumbered from 4000 in the order of their
// last change (a replica's USNs say when it received the object), so they
// can be lower than what the previous DC reported. Paged-search cookies of
// the previous DC stop working.
func (d *Directory) SwitchDC(name string) error {
	if strings.TrimSpace(name) == "" || strings.ContainsAny(name, ",=+\\\"<>;\n") {
		return opErr("SwitchDC", name, fmt.Errorf("%w: %q is not a valid computer name", ErrInvalid, name))
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.placeDSA(name, newGUID())
	list := make([]*object, 0, len(d.objs))
	for o := range maps.Values(d.objs) {
		list = append(list, o)
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].usnChanged != list[j].usnChanged {
			return list[i].usnChanged < list[j].usnChanged
		}
		return list[i].usnCreated < list[j].usnCreated
	})
	d.usn = switchDCStartUSN
	for _, o := range list {
		d.usn++
		o.usnCreated, o.usnChanged = d.usn, d.usn
	}
	d.clearPages()
	return nil
}
