package ldapsync

import "time"

// SyncMode says whether a run read the whole directory or only its changes.
type SyncMode string

// Sync modes.
const (
	SyncFull        SyncMode = "full"
	SyncIncremental SyncMode = "incremental"
)

// Skip names a directory object that was not synchronised, and why.
type Skip struct {
	// ID is the object's ID (objectGUID on Active Directory, else
	// entryUUID); "" when the entry has none.
	ID string `json:"id"`
	// DN is the object's distinguished name.
	DN string `json:"dn"`
	// Reason says why the object was not synchronised.
	Reason string `json:"reason"`
}

// Report describes one run of [Syncer.Run]. The lists hold object IDs.
type Report struct {
	// Mode says whether the run read the whole directory or its changes.
	Mode SyncMode `json:"mode"`
	// Host is the directory host that served the run.
	Host string `json:"host"`
	// Duration is how long the run took, measured with the Syncer's clock.
	Duration time.Duration `json:"duration"`

	Added    []string `json:"added,omitempty"`    // users, contacts and groups new to the target (or linked again)
	Updated  []string `json:"updated,omitempty"`  // changed attributes, addresses or members
	Disabled []string `json:"disabled,omitempty"` // users newly disabled
	Enabled  []string `json:"enabled,omitempty"`  // users enabled again
	Unlinked []string `json:"unlinked,omitempty"` // removals kept as "created by message in transit"
	Deleted  []string `json:"deleted,omitempty"`  // removals deleted (and removed groups)

	Skipped  []Skip   `json:"skipped,omitempty"`  // objects in the directory that were not synchronised
	Withheld []string `json:"withheld,omitempty"` // removals not applied (deletion limit)
	// Warnings describe problems that did not stop the run, for example
	// why a full read was needed or a referral that was not followed.
	Warnings []string `json:"warnings,omitempty"`
}

// ChangeOp is one kind of target write.
type ChangeOp string

// Target writes, in the order a run applies them.
const (
	OpAdd         ChangeOp = "add"     // Upsert of an object the target does not hold linked
	OpUpdate      ChangeOp = "update"  // Upsert of a changed object
	OpEnable      ChangeOp = "enable"  // Upsert of a user whose disabled bit cleared
	OpDisable     ChangeOp = "disable" // Disable (or Upsert when other fields changed too)
	OpAddGroup    ChangeOp = "add group"
	OpUpdateGroup ChangeOp = "update group"
	OpUnlink      ChangeOp = "unlink"
	OpDelete      ChangeOp = "delete"
	OpDeleteGroup ChangeOp = "delete group"
)

// Change is one planned target write.
type Change struct {
	// Op is the kind of write.
	Op ChangeOp `json:"op"`
	// ID is the ID of the object written.
	ID string `json:"id"`
	// DN is the object's distinguished name; for a removal, the last one
	// known.
	DN string `json:"dn,omitempty"`
	// User is the user or contact to write; nil for group writes and
	// removals.
	User *User `json:"user,omitempty"`
	// Group is the group to write; nil for user and contact writes and
	// removals.
	Group *Group `json:"group,omitempty"`

	viaDisable bool // OpDisable of a user whose only change is the disabled bit
	// encoded: User is made from the encoded next state when applied
	// (see commit), with groups as its Groups.
	encoded bool
	groups  []string
	// For removals and group writes: what the target holds (kept in the
	// state when a removal is withheld); nil for user writes, most of a
	// plan, which carry nothing more.
	prior *priorState
}

// priorState is what the target holds for the object of a change.
type priorState struct {
	fp, kind string
	disabled bool
	members  []string // a group removal: the members the target may hold for it
}

func (c Change) prevFP() string {
	if c.prior == nil {
		return ""
	}
	return c.prior.fp
}

// IsRemoval reports whether the change removes an object from the target.
func (c Change) IsRemoval() bool {
	return c.Op == OpUnlink || c.Op == OpDelete || c.Op == OpDeleteGroup
}

// Plan is what a run would do, computed by [Syncer.Plan] without writing
// to the target or the state store.
type Plan struct {
	// Mode says whether the run would read the whole directory or its
	// changes.
	Mode SyncMode `json:"mode"`
	// Host is the directory host that was read.
	Host string `json:"host"`
	// Changes are the writes a run would apply, in order.
	Changes []Change `json:"changes,omitempty"`
	// Withheld are removals over MaxSyncDeletions, which would not be
	// applied.
	Withheld []Change `json:"withheld,omitempty"`
	// Skipped lists directory objects that would not be synchronised.
	Skipped []Skip `json:"skipped,omitempty"`
	// Warnings describe problems found while planning, as in [Report].
	Warnings []string `json:"warnings,omitempty"`
}
