package testscale

import "testing"

func TestSize(t *testing.T) {
	t.Setenv(EnvFull, "")
	if Full() || Size(2, 20) != 2 {
		t.Errorf("unset: Full %v, Size %d", Full(), Size(2, 20))
	}
	t.Setenv(EnvFull, "1")
	if !Full() || Size(2, 20) != 20 {
		t.Errorf("1: Full %v, Size %d", Full(), Size(2, 20))
	}
	t.Setenv(EnvFull, "true")
	if Full() {
		t.Error(`"true" selects the full sizes; only "1" does`)
	}
}
