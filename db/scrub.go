package db

import (
	"errors"
	"strings"
)

// scrub removes a password from an error's text. pgx does not put passwords
// in its errors today; this keeps it so if a driver ever does.
func scrub(err error, password string) error {
	if err == nil || password == "" || !strings.Contains(err.Error(), password) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), password, "xxxxx"))
}
