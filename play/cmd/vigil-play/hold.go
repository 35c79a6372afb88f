package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vigil-rec/vigil/conf/hostinfo"
	"github.com/vigil-rec/vigil/conf/safetext"
	"github.com/vigil-rec/vigil/play/remote"
)

// holdCmd places (release false) or lifts the collector's legal hold on
// recordings: the collector's counterpart of vigilctl hold and release,
// for root on the collector's host (the Cockpit page's admins).
func holdCmd(release bool) *cobra.Command {
	var (
		reason string
		sf     serverFlags
	)
	use, short := "hold --server SOCKET --reason TEXT HOST/FILE...",
		"Put a collector's recordings under a legal hold (root on the collector's host)"
	if release {
		use, short = "release --server SOCKET HOST/FILE...", "Lift the collector's legal hold on recordings (root on the collector's host)"
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Long: short + `.

A legal hold keeps a recording from the collector's retention (vigil-collector purge)
until it is released; vigil-collector holds list shows them. Each argument is a
recording HOST/FILE as list --server names it. --server must be the collector's local
socket and the caller root on its host: the collector places the hold in the name of
the caller (and the login behind root) and refuses anyone else. Hosts' own holds
(vigilctl hold on the host) are shipped with the recordings and are not released here.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !sf.named() {
				return &exitError{exitUsageErr, errors.New("--server (the collector's local socket) is required")}
			}
			if !release && strings.TrimSpace(reason) == "" {
				return &exitError{exitUsageErr, errors.New("a hold needs --reason (a case number, a request)")}
			}
			c, err := sf.client()
			if err != nil {
				return err
			}
			defer c.Close()
			by := hostinfo.Caller()
			failed := 0
			for _, name := range args {
				host, file, err := remote.ParseName(name)
				if err == nil && release {
					_, err = c.Release(cmd.Context(), host, file, by)
				} else if err == nil {
					_, err = c.Hold(cmd.Context(), host, file, reason, by)
				}
				if err != nil {
					warn(cmd.ErrOrStderr(), "%s", err)
					failed++
					continue
				}
				verb := "held"
				if release {
					verb = "released"
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s %s\n", verb, safetext.Printable(name))
			}
			if failed > 0 {
				return &exitError{exitFailed, fmt.Errorf("%d of %d recordings failed", failed, len(args))}
			}
			return nil
		},
	}
	if !release {
		cmd.Flags().StringVar(&reason, "reason", "", "why the recordings are held (required): a case number, a request, as `TEXT`")
	}
	addServerFlags(cmd, &sf)
	return cmd
}
