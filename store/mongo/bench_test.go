package mongo_test

import (
	"testing"

	"github.com/scimbridge/scimbridge/store/storetest"
)

// FerretDB figures are not MongoDB figures: run with
// SCIMBRIDGE_TEST_MONGO_URI set for those.

func BenchmarkCreate(b *testing.B) { storetest.BenchCreate(b, newStore(b)) }

func BenchmarkUpdate(b *testing.B) { storetest.BenchUpdate(b, newStore(b)) }

func BenchmarkGetByUserName(b *testing.B) { storetest.BenchGetByUserName(b, newStore(b), 1000) }

func BenchmarkHistory(b *testing.B) { storetest.BenchHistory(b, newStore(b), 1000) }

func BenchmarkTrim(b *testing.B) { storetest.BenchTrim(b, newStore(b), 1000, 100) }
