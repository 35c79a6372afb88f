package main

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/vigil-rec/vigil/conf/atomicfile"
	"github.com/vigil-rec/vigil/rec/keys"
)

// The recorder signs with keyDir/signing.key (conf: sign.key); vigil-play
// verify trusts every keyDir/*.pub, so retired keys keep verifying the
// recordings they signed.
const (
	keyDir     = "/etc/vigil/keys"
	signingKey = "signing.key"
)

// newKey writes a fresh private key at path, readable by the vigil group
// only (the recorder runs as vigil), and its public key as dir/ID.pub.
func newKey(dir, path string) (string, error) {
	k, err := keys.Generate()
	if err != nil {
		return "", err
	}
	if err := keys.WritePrivate(path, k); err != nil {
		return "", err
	}
	if g, err := user.LookupGroup("vigil"); err == nil {
		gid, _ := strconv.Atoi(g.Gid)
		if err := os.Chown(path, 0, gid); err != nil {
			os.Remove(path)
			return "", fmt.Errorf("chown %s: %w", path, err)
		}
	} else {
		fmt.Fprintf(os.Stderr, "vigilctl: warning: no group vigil (%v): %s stays root-only and the recorder cannot sign\n", err, path)
	}
	pub := k.Public().(ed25519.PublicKey)
	id := keys.ID(pub)
	if err := keys.WritePublic(filepath.Join(dir, id+".pub"), pub); err != nil {
		os.Remove(path)
		return "", err
	}
	return id, nil
}

func keygenCmd() *cobra.Command {
	dir := keyDir
	cmd := &cobra.Command{
		Use:   "keygen",
		Short: "Create the host's recording signing key (" + keyDir + "/" + signingKey + ")",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			path := filepath.Join(dir, signingKey)
			if _, err := os.Lstat(path); err == nil {
				return fmt.Errorf("%s exists: use rotate-key to replace it", path)
			}
			id, err := newKey(dir, path)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "created %s (key %s); public key %s\n", path, id, filepath.Join(dir, id+".pub"))
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", dir, "key `DIR`ectory")
	return cmd
}

func rotateKeyCmd() *cobra.Command {
	dir := keyDir
	cmd := &cobra.Command{
		Use:   "rotate-key",
		Short: "Replace the signing key; the old public key stays trusted for old recordings",
		Long: "Creates a new signing key and atomically puts it in place of the old one.\n" +
			"Sessions already running keep signing with the key they started with; the old\n" +
			"public key stays in the key directory so their recordings still verify.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path := filepath.Join(dir, signingKey)
			old, err := keys.LoadPrivate(path)
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("current key: %w", err)
			}
			tmp := path + ".new"
			os.Remove(tmp) // left by an interrupted rotation
			id, err := newKey(dir, tmp)
			if err != nil {
				return err
			}
			if err := os.Rename(tmp, path); err != nil {
				os.Remove(tmp)
				return err
			}
			if err := atomicfile.SyncDir(dir); err != nil {
				return err
			}
			if old != nil {
				fmt.Fprintf(cmd.OutOrStdout(), "rotated: key %s replaces %s (%s.pub kept for verification)\n",
					id, keys.ID(old.Public().(ed25519.PublicKey)), keys.ID(old.Public().(ed25519.PublicKey)))
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "created %s (key %s)\n", path, id)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", dir, "key `DIR`ectory")
	return cmd
}
