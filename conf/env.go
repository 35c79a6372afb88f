package conf

// The environment pam_vigil sets for a recorded user's session and the
// recorder reads (design.md §2): a security boundary, so spelled once, here,
// for the module, the recorders and the configuration loader.
const (
	// EnvRecShell is the user's real shell.
	EnvRecShell = "VIGIL_REC_SHELL"
	// EnvRecConf is the recorder configuration (JSON) the policy chose.
	EnvRecConf = "VIGIL_REC_CONF"
	// EnvRecService names the PAM service, so that the setuid recorder can
	// ask policyd itself instead of trusting the other variables.
	EnvRecService = "VIGIL_REC_SERVICE"
	// EnvTlogSessionShell and EnvTlogSessionConf are tlog-rec-session's
	// names for the same, set too so that tlog's recorder works behind
	// pam_vigil.
	EnvTlogSessionShell = "TLOG_REC_SESSION_SHELL"
	EnvTlogSessionConf  = "TLOG_REC_SESSION_CONF_TEXT"
	// EnvTlogRecConf is tlog-rec's configuration variable.
	EnvTlogRecConf = "TLOG_REC_CONF_TEXT"
)
