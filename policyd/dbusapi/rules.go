package dbusapi

import (
	"context"
	"fmt"

	"github.com/vigil-rec/vigil/policyd/dbusapi/wire"
)

// Rules returns the effective rule set as JSON (policyd/spec/dbus.md).
func (c *Client) Rules(ctx context.Context) (string, error) {
	var js string
	if err := c.call(ctx, wire.MethodRules, nil, &js); err != nil {
		return "", fmt.Errorf("rules: %w", err)
	}
	return js, nil
}
