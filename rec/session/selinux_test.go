package session

import "testing"

func TestContextType(t *testing.T) {
	for ctx, want := range map[string]string{
		"user_u:user_r:user_t:s0\x00":                  "user_t",
		"system_u:system_r:vigil_rec_t:s0-s0:c0.c1023": "vigil_rec_t",
		"staff_u:staff_r:staff_t\n":                    "staff_t",
		"kernel":                                       "",
		"":                                             "",
	} {
		if got := contextType(ctx); got != want {
			t.Errorf("contextType(%q) = %q, want %q", ctx, got, want)
		}
	}
}

// Without SELinux (this host) neither call changes anything.
func TestSELinuxDisabled(t *testing.T) {
	if selinuxEnabled() {
		t.Skip("SELinux is enabled here")
	}
	if err := EnterRecorderDomain([]string{"x"}); err != nil {
		t.Fatal(err)
	}
	if err := SetShellExecContext(); err != nil {
		t.Fatal(err)
	}
}
