package ldapsync

// User is one synchronised directory object: a user or, with Contact set, a
// contact.
type User struct {
	ID          string              `json:"id"` // objectGUID (Active Directory) or entryUUID, as a lower-case UUID string
	DN          string              `json:"dn"`
	Email       string              `json:"email"`             // primary address, lower case
	Aliases     []string            `json:"aliases,omitempty"` // further addresses, lower case, sorted
	DisplayName string              `json:"displayName,omitempty"`
	Disabled    bool                `json:"disabled,omitempty"`
	Contact     bool                `json:"contact,omitempty"`
	Groups      []string            `json:"groups,omitempty"` // IDs of the synchronised groups the user is a member of, sorted
	Attributes  map[string][]string `json:"attributes,omitempty"`

	attrs attrBlock // Attributes, packed (see attrBlock), when Attributes is nil: in plans only
}

// Group is one synchronised directory group.
type Group struct {
	ID      string   `json:"id"`
	DN      string   `json:"dn"`
	Name    string   `json:"name"`
	Email   string   `json:"email,omitempty"`
	Members []string `json:"members,omitempty"` // IDs of synchronised users and contacts, sorted
}

func (u User) clone() User {
	if u.Attributes == nil && u.attrs != "" {
		u.Attributes = u.attrs.toMap()
	}
	u.attrs = ""
	u.Aliases = append([]string(nil), u.Aliases...)
	u.Groups = append([]string(nil), u.Groups...)
	if u.Attributes != nil {
		m := make(map[string][]string, len(u.Attributes))
		for k, v := range u.Attributes {
			m[k] = append([]string(nil), v...)
		}
		u.Attributes = m
	}
	return u
}

func (g Group) clone() Group {
	g.Members = append([]string(nil), g.Members...)
	return g
}
