package main

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/vigil-rec/vigil/conf"
	"github.com/vigil-rec/vigil/policyd/sshdaudit"
	"github.com/vigil-rec/vigil/policyd/sshdcheck"
)

// sshdFlags adds the flags that say which sshd configuration check and
// enable read; with policy (enable), also the ways to accept and the
// policy that decides whom sshd is asked about.
func sshdFlags(cmd *cobra.Command, s *sshdaudit.Options, policy *string) {
	f := cmd.Flags()
	f.StringVar(&s.Config, "sshd-config", "", "check the sshd configuration `FILE` (sshd -f) instead of sshd's default")
	f.StringArrayVar(&s.Matches, "sshd-match", nil, "connection `ATTRS` for sshd's Match blocks on addresses and ports, as sshd -C takes them\n"+
		"(addr=192.0.2.1,host=client.example,laddr=192.0.2.10,lport=22); repeatable: each is checked")
	if policy == nil {
		return
	}
	var kinds []string
	for _, k := range sshdcheck.Kinds {
		kinds = append(kinds, string(k))
	}
	f.StringSliceVar(&s.Accept, "accept-ssh-bypass", nil, "enable even though sshd lets recorded users act outside the recorder in these `WAYS`:\n"+
		strings.Join(kinds, ", ")+"; all also when sshd's configuration cannot be read")
	f.StringVarP(policy, "policy", "p", "", "the policy `FILE` that decides who is recorded (default: the one vigil-policyd runs, else "+conf.DefaultPolicyPath+")")
}
