package transfer_test

import (
	"bytes"
	"context"
	"regexp"
	"testing"

	"github.com/scimbridge/scimbridge/internal/transfer"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/storetest"
)

// TestImportOrigin checks that every write of an import is journaled with
// Source import and the import's run id: generated when not given (and
// reported), taken as given otherwise. The importer sets the origin itself,
// so a caller's context needs none.
func TestImportOrigin(t *testing.T) {
	src := openStore(t)
	seed(t, src, 3)
	var buf bytes.Buffer
	if _, err := transfer.Export(storetest.Background(), src, &buf, transfer.ExportOptions{Tenants: []string{"default"}}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		opt   transfer.ImportOptions
		runID *regexp.Regexp
		actor string
	}{
		{transfer.ImportOptions{}, regexp.MustCompile(`^import-\d{8}T\d{6}Z-[0-9a-f]{8}$`), ""},
		{transfer.ImportOptions{RunID: "migrate-1", Actor: "ops"}, regexp.MustCompile(`^migrate-1$`), "ops"},
	} {
		dst := openStore(t)
		res, err := transfer.Import(context.Background(), dst, bytes.NewReader(buf.Bytes()), c.opt)
		if err != nil {
			t.Fatal(err)
		}
		if !c.runID.MatchString(res.RunID) {
			t.Fatalf("RunID %q does not match %v", res.RunID, c.runID)
		}
		cs, err := dst.Changes(storetest.Background(), "default", 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(cs) == 0 {
			t.Fatal("import journaled nothing")
		}
		want := store.Origin{Source: store.SourceImport, Actor: c.actor, RunID: res.RunID}
		for _, ch := range cs {
			if ch.Origin != want {
				t.Fatalf("entry %d (%s %s): origin %+v, want %+v", ch.Seq, ch.Op, ch.ID, ch.Origin, want)
			}
		}
	}
}
