package rtsp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
)

// ImportFile moves the cameras of an older version's JSON camera list
// (file) into the catalogue's store, keeping stored devices of the same
// name, and renames the file *.imported, so it is imported once. A file
// that does not exist is nothing to import.
func ImportFile(ctx context.Context, file string, cat *Catalog, log *slog.Logger) error {
	b, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read camera list: %w", err)
	}
	var list []Device
	if err := json.Unmarshal(b, &list); err != nil {
		return fmt.Errorf("camera list %s: %w", file, err)
	}
	for _, d := range list {
		cur, err := cat.Get(ctx, d.Name)
		if err != nil && !errors.Is(err, ErrUnknownDevice) {
			return err
		}
		if err == nil && cur.Stored {
			log.Warn("camera list: a stored camera of that name wins", "device", d.Name, "file", file)
			continue
		}
		if err := cat.Add(ctx, d); err != nil {
			return fmt.Errorf("camera list %s: %w", file, err)
		}
		log.Info("camera imported into the database", "device", d.Name, "url", d.RedactedURL())
	}
	if err := os.Rename(file, file+".imported"); err != nil {
		return fmt.Errorf("camera list: %w", err)
	}
	return nil
}
