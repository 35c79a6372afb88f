// Package clidoc writes the man pages of the Vigil commands from their
// cobra definitions (github.com/spf13/cobra/doc). `make deb` runs each
// binary's hidden generator: a "man-pages DIR" subcommand for the commands
// with subcommands (vigilctl, vigil-play), a "--man-pages DIR" flag for the
// single commands (vigil-rec, vigil-policyd), whose arguments are the
// recorded command or none.
package clidoc

import (
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// Name of the hidden subcommand and flag.
const Name = "man-pages"

// Generate writes one page per command of root's tree (hidden ones and
// help excepted) into dir, as root-sub.SECTION. The date is
// SOURCE_DATE_EPOCH's when set (reproducible builds).
func Generate(root *cobra.Command, section, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	root.DisableAutoGenTag = true
	return doc.GenManTree(root, &doc.GenManHeader{
		Section: section,
		Source:  "Vigil " + root.Version,
		Manual:  "Vigil manual",
	}, dir)
}

// Command is the hidden "man-pages DIR" subcommand of root.
func Command(root *cobra.Command, section string) *cobra.Command {
	return &cobra.Command{
		Use:    Name + " DIR",
		Short:  "Write the man pages into DIR (packaging)",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			return Generate(root, section, args[0])
		},
	}
}

// AddFlag adds the hidden --man-pages DIR flag to cmd, which has no
// subcommands: given, cmd writes its page instead of running. Call it once
// cmd.RunE is set.
func AddFlag(cmd *cobra.Command, section string) {
	var dir string
	cmd.Flags().StringVar(&dir, Name, "", "write the man page into `DIR` (packaging)")
	_ = cmd.Flags().MarkHidden(Name)
	run := cmd.RunE
	cmd.RunE = func(c *cobra.Command, args []string) error {
		if dir != "" {
			return Generate(cmd, section, dir)
		}
		return run(c, args)
	}
}
