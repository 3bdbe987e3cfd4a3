package store

import "testing"

func TestPageLimit(t *testing.T) {
	for _, c := range []struct{ in, want int }{
		{0, DefaultPageLimit}, {-1, DefaultPageLimit}, {1, 1}, {999, 999},
		{DefaultPageLimit, DefaultPageLimit}, {MaxPageLimit, MaxPageLimit},
	} {
		if got, err := PageLimit(c.in); got != c.want || err != nil {
			t.Errorf("PageLimit(%d) = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
	if _, err := PageLimit(MaxPageLimit + 1); err == nil {
		t.Errorf("PageLimit(%d): no error", MaxPageLimit+1)
	}
}
