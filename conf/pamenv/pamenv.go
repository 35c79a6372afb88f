// Package pamenv names the environment pam_vigil sets for a recorded
// user's session and the recorder reads (design.md §2): a security
// boundary, so spelled once, here, for the module, the recorders and the
// configuration loader. Constants only: pam_vigil links it.
package pamenv

const (
	// RecShell is the user's real shell.
	RecShell = "VIGIL_REC_SHELL"
	// RecConf is the recorder configuration (JSON) the policy chose.
	RecConf = "VIGIL_REC_CONF"
	// RecService names the PAM service, so that the setuid recorder can
	// ask policyd itself instead of trusting the other variables.
	RecService = "VIGIL_REC_SERVICE"
	// TlogSessionShell and TlogSessionConf are tlog-rec-session's
	// names for the same, set too so that tlog's recorder works behind
	// pam_vigil.
	TlogSessionShell = "TLOG_REC_SESSION_SHELL"
	TlogSessionConf  = "TLOG_REC_SESSION_CONF_TEXT"
	// TlogRecConf is tlog-rec's configuration variable.
	TlogRecConf = "TLOG_REC_CONF_TEXT"
)
