package bench

import (
	"encoding/xml"
	"fmt"

	crewjam "github.com/crewjam/saml"
)

// CrewjamPick parses metadata the way a crewjam/saml user does:
// xml.Unmarshal into its EntitiesDescriptor (or EntityDescriptor for a
// single entity), then the IdP with entityID is picked from the result.
func CrewjamPick(data []byte, entityID string) (string, error) {
	if entityID == "" {
		var ed crewjam.EntityDescriptor
		if err := xml.Unmarshal(data, &ed); err != nil {
			return "", err
		}
		if len(ed.IDPSSODescriptors) == 0 || len(ed.IDPSSODescriptors[0].SingleSignOnServices) == 0 {
			return "", fmt.Errorf("crewjam: no IdP SSO endpoints in %s", ed.EntityID)
		}
		return ed.EntityID, nil
	}
	var agg crewjam.EntitiesDescriptor
	if err := xml.Unmarshal(data, &agg); err != nil {
		return "", err
	}
	for i := range agg.EntityDescriptors {
		if agg.EntityDescriptors[i].EntityID == entityID {
			return entityID, nil
		}
	}
	return "", fmt.Errorf("crewjam: %s not found", entityID)
}
