package ldapsync

import "context"

// DirSyncReads observes the incremental DirSync reads of the runs made
// with the context [WithDirSyncReads] returns.
type DirSyncReads struct{ o *dirSyncObserver }

// WithDirSyncReads returns ctx carrying a fresh [DirSyncReads].
func WithDirSyncReads(ctx context.Context) (context.Context, *DirSyncReads) {
	o := &dirSyncObserver{}
	return context.WithValue(ctx, dirSyncObserverKey{}, o), &DirSyncReads{o: o}
}

// Changed lists, per incremental DirSync read, how many objects DirSync
// reported changed.
func (d *DirSyncReads) Changed() []int {
	d.o.mu.Lock()
	defer d.o.mu.Unlock()
	return append([]int(nil), d.o.changed...)
}
