// Package ldapsynctest runs an in-process LDAP server with Active Directory
// semantics for tests of directory synchronisation: real LDAP over TCP on
// 127.0.0.1, served by github.com/jimlambrt/gldap, filled and changed from
// the test with plain Go calls.
//
// # Starting a directory
//
// [Start] listens on a free loopback port and registers its shutdown with
// tb.Cleanup; open client connections are closed then, so a client that
// never unbinds cannot hang the test. [New] and [Directory.Close] do the
// same without a testing.TB (Examples, a TestMain shared directory). [Directory.URL] gives the ldap:// (or
// ldaps://) URL, [Directory.Config] a ready [ldapsync.Config] (host, port,
// encryption, CA pool, bind DN and password, RootDN = base DN), and
// [Directory.CertPool] the CA to trust when [WithTLS] selects [TLSLDAPS] or
// [TLSStartTLS].
//
//	dir := ldapsynctest.Start(t)
//	alice, err := dir.AddUser(ldapsynctest.User{CN: "Alice", Mail: "alice@example.com"})
//	require.NoError(t, err)
//	cfg := dir.Config()
//
// The domain is corp.example.test (base DN DC=corp,DC=example,DC=test,
// [WithBaseDN] changes it) and starts with what a new domain has: CN=Users,
// CN=Computers, CN=Deleted Objects and CN=Administrator,CN=Users, the
// default bind account (password [DefaultPassword]; [WithBindCredentials]
// changes it). Administrator is a user without mail, so a sync of the whole
// domain sees it and skips it for lack of an address.
//
// # Changing the data
//
// [Directory.AddUser], [Directory.AddContact], [Directory.AddComputer],
// [Directory.AddGroup] and [Directory.AddOU] create objects and return an
// [Entry]: the DN and the objectGUID. Objects are then named by DN in
// [Directory.SetMail], [Directory.SetProxyAddresses],
// [Directory.SetAttribute], [Directory.Disable], [Directory.Enable],
// [Directory.AddMember], [Directory.RemoveMember], [Directory.Rename],
// [Directory.Move], [Directory.Delete] and [Directory.Undelete];
// "<GUID=...>" works as a DN too. [Directory.Find] evaluates a filter
// without a connection, [Directory.Attributes] shows an object as a search
// would, [Directory.DN] finds an object's current DN by objectGUID and
// [Directory.LDIF] dumps the directory for a failing test's log.
// Every such method returns an error (an [*OpError] wrapping [ErrNotFound],
// [ErrExists], [ErrInvalid], [ErrNotLeaf], [ErrReadOnly] or [ErrWrongKind])
// rather than failing the test, so they can be called from any
// goroutine and bad calls can be asserted. All methods are safe for
// concurrent use with each other and with connected clients.
//
// # Identity
//
// objectGUID travels as Active Directory sends it: 16 raw bytes, the first
// three fields little-endian. [GUID.String] prints the canonical text form
// ("6f9619ff-8b86-d011-b42d-00c04fc964ff" for the bytes ff 19 96 6f 86 8b 11
// d0 b4 2d 00 c0 4f c9 64 ff), the form [Entry.ID] holds and tombstone names
// use; [ParseGUID] and [GUIDFromBytes] convert back.
//
// # Active Directory semantics
//
// Users have objectClass top/person/organizationalPerson/user and
// objectCategory CN=Person,CN=Schema,CN=Configuration,<base>; contacts
// top/person/organizationalPerson/contact with the same category; computers
// add the computer class with category Computer; groups are top/group with
// category Group and groupType -2147483646. (objectCategory=person) and the
// other class names match their category DN, as on Active Directory.
// userAccountControl is 512 for enabled users and 514 when disabled (bit
// 0x2; [Directory.Disable] and [Directory.Enable] keep the other bits).
//
// Every write takes the next USN: the object's uSNChanged (and whenChanged)
// increase and the root DSE's highestCommittedUSN follows, starting above
// 12000 as a fresh domain does. member is a forward link stored on the
// group; memberOf is computed: adding a member changes the group, not the
// member. Renaming or moving an OU changes the DNs below it without
// changing those objects' uSNChanged. Deleting an object leaves a tombstone
// "CN=<name>\0ADEL:<guid>,CN=Deleted Objects,<base>" with isDeleted TRUE,
// lastKnownParent, objectGUID and a few other attributes, visible only to
// searches carrying the show-deleted control [OIDShowDeleted]; groups that
// listed it lose the member and change.
//
// # Search
//
// Base, one-level and subtree scopes; filters with and, or, not, equality,
// presence, substrings, >=, <=, approximate (as equality) and the extensible
// matches Active Directory clients use: bitwise AND and OR
// ([OIDMatchingRuleBitAnd], [OIDMatchingRuleBitOr]) and transitive
// membership ([OIDMatchingRuleInChain]). Attribute names and most values
// compare case-insensitively; DNs compare in normal form, integers
// numerically, times (whenChanged, modifyTimestamp) as instants,
// objectGUID byte for byte. Attribute selection supports "*", "1.1" and
// typesOnly; the constructed createTimeStamp and modifyTimeStamp are
// returned when named, not for "*". The base may be "<GUID=...>".
//
// The simple paged results control ([OIDPagedResults], RFC 2696) is
// honoured with opaque cookies, several paged searches at a time, and
// pages capped at [WithMaxPageSize] (default 1000). A paged search sees the
// directory as it was at its first page; its cookie is forgotten when the
// connection that started it closes, after [Directory.SwitchDC] or
// [Directory.Restore], and when reused for a different search. A search without
// paging that matches more than [WithSizeLimit] entries (default 1000, like
// MaxPageSize) returns that many and ends with sizeLimitExceeded (4).
// Attributes with more values than [WithMaxValRange] (default 1500) come
// back ranged, as member;range=0-1499; ask for member;range=1500-* and so
// on until the returned range ends in "*" (a group of exactly 3,000 ends
// with an empty member;range=3000-*).
//
// Binds are simple binds by DN, user principal name or DOMAIN\name; a wrong
// password is invalidCredentials (49). A name with an empty password is an
// unauthenticated bind: it succeeds and leaves the connection anonymous,
// as on Active Directory. Anonymous connections may read the root DSE and
// nothing else (operationsError, 1). The directory is read-only over LDAP:
// add, modify and delete requests are refused with unwillingToPerform (53).
// A critical control it does not implement (server-side sorting, for one)
// fails the search with unavailableCriticalExtension (12); the root DSE
// lists what is supported.
//
// The DirSync control ([OIDDirSync]) returns the objects of the naming
// context changed since its cookie in uSNChanged order, tombstones
// included, at most [WithMaxPageSize] per response with the more-data flag
// set until the end. The base must be the domain root; without the
// object-security flag only the bind account (which stands for an account
// with Replicating Directory Changes) may use it. Simplifications: changed
// objects come back with all requested attributes (plus objectGUID,
// instanceType, name and isDeleted), never as incremental value changes,
// and a cookie from another invocation ID starts over from the beginning. [WithReferrals] adds the continuation references a domain
// root search returns on Active Directory.
//
// # Domain controllers
//
// The root DSE names the domain controller in dsServiceName; its NTDS
// Settings object carries invocationId. [Directory.SwitchDC] answers as
// another DC (new dsServiceName and invocation ID, USNs of its own) and
// [Directory.Backup] with [Directory.Restore] rolls the data back with a
// new invocation ID, as a restored DC does: USNs after a restore repeat
// values a client has already seen.
//
// # Implementation notes
//
// Clients connect to a small LDAP-aware relay that forwards whole LDAP
// messages to the gldap server on a second loopback port. The relay does
// what gldap cannot: it terminates LDAPS and StartTLS, closes connections
// on shutdown and on injected faults, counts entries, and turns
// placeholder entries into SearchResultReference messages. Search, bind
// and all directory semantics are in the gldap handlers.
//
// # Faults
//
// [Faults], set with [WithFaults] or [Directory.SetFaults], inject latency,
// drop a connection after a number of search entries (a read that ends
// early), fail searches or binds with a chosen result code, fail chosen
// searches only (Faults.FailSearch sees base, filter, attributes and page
// of each), or close idle connections. [Directory.DropConnections] closes every open connection at
// once. [Directory.Stats] counts connections, binds, searches and entries
// sent, so a test can check how much an incremental read really fetched.
package ldapsynctest
