package ldapsynctest

import "errors"

// Sentinel errors returned (wrapped) by the data methods of [Directory].
// Test them with errors.Is.
var (
	// ErrNotFound: no live object has the given DN or GUID.
	ErrNotFound = errors.New("ldapsynctest: no such object")
	// ErrExists: an object with that DN already exists.
	ErrExists = errors.New("ldapsynctest: object already exists")
	// ErrInvalid: an argument or an option is malformed or missing.
	ErrInvalid = errors.New("ldapsynctest: invalid argument")
	// ErrNotLeaf: the object still has children (Active Directory refuses
	// to delete it without a tree delete).
	ErrNotLeaf = errors.New("ldapsynctest: object has children")
	// ErrReadOnly: the attribute is maintained by the directory itself
	// (objectGUID, uSNChanged, member, ...) and has its own method or none.
	ErrReadOnly = errors.New("ldapsynctest: attribute is maintained by the directory")
	// ErrWrongKind: the method does not apply to this kind of object, such
	// as Disable on a group or AddMember on a user.
	ErrWrongKind = errors.New("ldapsynctest: operation does not apply to this object")
)

// OpError describes a failed data method call: the operation, the DN it was
// given and the cause, which wraps one of the sentinels above.
type OpError struct {
	Op  string // method name, e.g. "AddUser"
	DN  string // the DN or name the method was given
	Err error
}

func (e *OpError) Error() string {
	if e.DN == "" {
		return e.Op + ": " + e.Err.Error()
	}
	return e.Op + " " + e.DN + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *OpError) Unwrap() error { return e.Err }

func opErr(op, dn string, err error) error {
	if err == nil {
		return nil
	}
	return &OpError{Op: op, DN: dn, Err: err}
}
