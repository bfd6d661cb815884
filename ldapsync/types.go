package ldapsync

// User is one synchronised directory object: a user or, with Contact set, a
// contact.
type User struct {
	ID          string // objectGUID (Active Directory) or entryUUID, as a UUID string
	DN          string
	Email       string
	Aliases     []string
	DisplayName string
	Disabled    bool
	Contact     bool
	Groups      []string // group IDs
	Attributes  map[string][]string
}

// Group is one synchronised directory group.
type Group struct {
	ID      string
	DN      string
	Name    string
	Email   string
	Members []string // user IDs
}
