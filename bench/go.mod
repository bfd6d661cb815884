module github.com/gatehouse-id/gatehouse/bench

go 1.26.0

replace github.com/gatehouse-id/gatehouse => ../

require (
	github.com/crewjam/saml v0.5.1
	github.com/gatehouse-id/gatehouse v0.0.0-00010101000000-000000000000
	github.com/go-ldap/ldap/v3 v3.4.15
	github.com/russellhaering/gosaml2 v0.12.0
	github.com/russellhaering/goxmldsig v1.6.1
)

require (
	github.com/Azure/go-ntlmssp v0.1.1 // indirect
	github.com/beevik/etree v1.7.0 // indirect
	github.com/go-asn1-ber/asn1-ber v1.5.8 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/jonboulle/clockwork v0.5.0 // indirect
	github.com/mattermost/xml-roundtrip-validator v0.1.0 // indirect
	golang.org/x/crypto v0.54.0 // indirect
)
