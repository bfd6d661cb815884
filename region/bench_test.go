package region_test

import (
	"testing"

	"github.com/gatehouse-id/gatehouse/region"
)

func BenchmarkFromURL(b *testing.B) {
	for b.Loop() {
		if _, err := region.FromURL("https://usb-api.mimecast.com/login/sso/adcon"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseEntityID(b *testing.B) {
	for b.Loop() {
		if _, _, err := region.ParseEntityID("https://uspcom-api.mimecast-pscom-us.com/sso/CUSA123ABC"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkForAccount(b *testing.B) {
	for b.Loop() {
		if _, err := region.ForAccount("cusb123abc"); err != nil {
			b.Fatal(err)
		}
	}
}
