package mongo

import (
	"context"
	"reflect"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/scimbridge/scimbridge/schemas"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/query"
)

// TestWorkEmailFilterUsesEmailIndex checks that Entra's work e-mail matching
// query becomes a condition on the indexed "em" field (res_email), with the
// e-mail's type left to query.Match.
func TestWorkEmailFilterUsesEmailIndex(t *testing.T) {
	reg, err := schemas.Load()
	if err != nil {
		t.Fatal(err)
	}
	f, err := query.Parse(reg.User, `emails[type eq "work"].value eq "Alice@Contoso.Example"`)
	if err != nil {
		t.Fatal(err)
	}
	terms, exact := query.Plan(f)
	if exact || len(terms) != 1 {
		t.Fatalf("Plan = %+v, %v; want one inexact term", terms, exact)
	}
	var s Store // the e-mail term needs no database round trip
	got, err := s.termFilter(context.Background(), "t", store.User, terms[0])
	if err != nil {
		t.Fatal(err)
	}
	if want := (bson.D{{Key: "em", Value: "alice@contoso.example"}}); !reflect.DeepEqual(got, want) {
		t.Errorf("termFilter = %v, want %v", got, want)
	}
}
