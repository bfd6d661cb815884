// Package ldapsync synchronises users, contacts and groups from Active
// Directory or another LDAP directory into a [Target], with the policies
// and safety rails of a directory-sync service: incremental reads, bounded
// removals and crash-safe state.
//
// # Configuring
//
// A [Config] names the directory host (and an alternate), the transport
// ([EncryptionNone], [EncryptionLDAPS], [EncryptionStartTLS]), how the
// certificate is trusted ([ModeStrict] by default, [ModeRelaxed]), the bind
// account and the root DN to read, and the policies. A bind password needs
// its Encryption named: the password travels in the clear only when
// EncryptionNone is chosen explicitly. [Config.Validate]
// names every bad field; [TestConnection] checks a configuration step by
// step before it is saved.
//
// # Running
//
// [NewSyncer] ties a Config to a [Target] and a [StateStore].
// [Syncer.Run] reads the directory, applies the policies, writes the
// changes and saves the state; [Syncer.Plan] computes the same changes
// without writing anything. The [Report] lists what was added, updated,
// disabled, enabled, unlinked and deleted, what was skipped and why, and
// which host served the run.
//
// # Reading the directory
//
// Users (objectClass=user, objectCategory=person), contacts (with
// IncludeContacts) and groups under RootDN are read with paged searches.
// Identity is objectGUID (entryUUID on other directories), so renames and
// moves inside RootDN are updates. The primary address is the
// proxyAddresses "SMTP:" value, else mail; "smtp:" values are aliases.
// Group members are resolved to object IDs, following range retrieval to
// the end for large groups.
//
// # Incremental runs
//
// The first run reads everything. Later runs read only what changed since
// the stored watermark: on Active Directory uSNChanged above the
// highestCommittedUSN read before the previous search, tied to the domain
// controller's dsServiceName and invocationId (another controller or a
// restored database forces a full read); elsewhere modifyTimestamp.
// Where the directory offers more, a cookie replaces the polling: the
// DirSync control on Active Directory when the bind account holds
// "Replicating Directory Changes" (otherwise uSNChanged), and RFC 4533
// content synchronisation (refreshOnly) on OpenLDAP with syncprov
// (otherwise modifyTimestamp). Watermark.Source names the source in use.
// Removals are found by enumerating object IDs only; with DirSync, which
// reports deletions itself, only when a container changed since the last
// run (objects under a renamed or moved OU change DN unreported); with
// content sync from the refresh itself (deletions named by a session log,
// or the IDs of its present phase), also listing IDs only when a container
// under RootDN changed. Objects the enumeration finds in scope that the
// state does not know (under an OU moved or renamed into RootDN, which
// keep their uSNChanged or entryCSN) are read whole in the same run.
// uSNChanged polling also reads the tombstones changed since the watermark
// with the show-deleted control (1.2.840.113556.1.4.417) where the root
// DSE lists it and the bind account may read Deleted Objects (on Active
// Directory, domain administrators by default), so that a deletion is
// known from the directory's record of it, also one made during the run.
// An account refused the control or shown no Deleted Objects gets the
// enumeration alone, without a warning. The enumeration is kept even when
// tombstones are read: no tombstone shows an object moved out of RootDN,
// an object the bind account can no longer see, or a deletion older than
// the tombstone lifetime. Objects
// whose content did not change cause no target writes. [WithFullSyncEvery]
// forces a periodic full read to heal drift no change record shows.
//
// An incremental run costs in proportion to the changes, not to the
// directory: with a [MemoryStore] or [FileStore] the Syncer keeps, between
// runs, where each object's record lies in the stored encoding and an
// index of addresses, DNs and memberships (about 100 bytes per object, no
// decoded record), plans over the objects the read names, and saves by
// copying the records of unchanged objects. The first run after a restart
// decodes and plans the whole state once. [WithoutKeptState] keeps nothing.
//
// # Removals and the deletion limit
//
// An object that leaves the result (deleted, moved out of RootDN, filtered
// out, without address) is unlinked, or deleted with DeleteUsers. When one
// run would remove more than MaxSyncDeletions objects, none is removed,
// everything else is applied, [Report.Withheld] lists them and Run returns
// a [*DeletionLimitError] wrapping [ErrDeletionLimit]. A withheld user or
// contact stays linked, and stays in its groups, run after run, until a
// run is allowed its removal. MaxSyncDeletions 0, the zero value, allows
// no removal at all. A read that finds
// nothing at all in scope while several objects are merely absent (no
// tombstone or change record names them deleted) withholds its removals the
// same way and returns an error wrapping [ErrEmptyRead]: a bind account that
// lost its read access looks exactly like that. A read that fails or
// ends early writes nothing; a read whose connection breaks is restarted
// once from the beginning on a new connection. Two objects claiming one
// address are both reported and neither is changed.
//
// # Reading fast, within bounds
//
// The paged searches that read users and groups (and the ID listings) do
// not go through go-ldap's BER decoder: the connection carries them past
// it, and each entry is decoded straight from its message, with its
// strings sharing the message's bytes, into a go-ldap Entry; what a record
// keeps is copied out into one block of its own. The next page is asked
// for as soon as a page ends, so the server produces it while the records
// of the last one are converted. Everything else (binds, the root DSE,
// DirSync, content sync, range retrieval) uses go-ldap as before. A message
// larger than 256 MiB, a read of more than 10,000,000 entries, a paged
// search of more than 2^20 pages or one whose server repeats a page fails
// the read instead of exhausting memory or looping.
//
// # Memory of a full run
//
// A full run holds the whole directory while it plans, since no address
// can be written before every object that might claim it has been read.
// It holds it compactly: a record keeps its text in one block and its
// extra attributes packed in one string, not a map each (Record.Attributes
// and User.Attributes are filled for what leaves the package: target
// writes, plans, and states a caller's StateStore or Load sees). With a
// [MemoryStore] or [FileStore] the plan keeps no user: the run encodes its
// next state before its first write, dropping each decoded record as it
// is encoded, and makes every user it writes from that encoding, so that
// while the target fills the directory is held once, encoded. On 100,000
// users the peak resident memory of a full run exceeds that of the
// target's own storage by 0.4 to 0.9 KB per user (BENCHMARKS.md).
//
// # Several integrations
//
// [Multi] runs several Syncers (one per domain or child domain) into one
// Target. When any directory cannot be read, removals pause for all of them
// in that round while everything else is applied (when one fails to apply
// its changes, for those applied after it); integrations need state stores
// of their own; and an address claimed
// by two integrations is reported ([MultiReport.Conflicts]).
//
// # State and crash safety
//
// The [State] (watermark and per-object fingerprints) is saved only after
// the target accepted every change of the run. [NewFileStore] writes it
// atomically, in a compact versioned encoding with a checksum, and refuses
// a corrupt file instead of starting over. A run
// interrupted at any point converges when run again, because every
// [Target] method is idempotent.
//
// # Testing
//
// [MemoryTarget] is an in-memory Target that can fail on demand
// ([MemoryTarget.FailAfter]); the ldapsynctest package serves an
// in-process directory with Active Directory semantics.
package ldapsync
