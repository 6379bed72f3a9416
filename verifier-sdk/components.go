package verifier

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// MaxComponents is how many component ids a server takes with an
// activation (more are refused, 422 naming "components").
const MaxComponents = 16

// ComponentsFrom hashes hardware component ids for the app appID, as
// FingerprintFrom hashes the machine id (the raw ids never leave the
// machine), sorted and without duplicates, at most MaxComponents. Give
// each id with its kind ("disk:<serial>", "mac:<address>") so that two
// kinds never collide.
func ComponentsFrom(appID string, ids ...string) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if id = strings.TrimSpace(id); id != "" {
			out = append(out, FingerprintFrom(appID, id))
		}
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) > MaxComponents {
		out = out[:MaxComponents]
	}
	return out
}

// Components collects this machine's component ids and hashes them for
// appID (ComponentsFrom): the OS install id (the machine id Fingerprint
// uses), the MAC addresses of its network interfaces (loopback and
// locally administered ones left out: containers and VPNs make those up),
// and on Linux the board's and disks' ids when readable. Put them in
// MachineRequest.Components: a policy's matching rule then keeps the seat
// of a machine whose fingerprint drifted after a part was replaced.
func Components(appID string) ([]string, error) {
	if appID == "" {
		return nil, errors.New("verifier: an app id is required for the components")
	}
	var ids []string
	if id, err := machineID(); err == nil {
		ids = append(ids, "os:"+id)
	}
	if ifs, err := net.Interfaces(); err == nil {
		for _, i := range ifs {
			mac := i.HardwareAddr
			if i.Flags&net.FlagLoopback != 0 || len(mac) < 6 || mac[0]&0x02 != 0 {
				continue
			}
			ids = append(ids, "mac:"+mac.String())
		}
	}
	for _, f := range []string{"/sys/class/dmi/id/board_serial", "/sys/class/dmi/id/product_uuid"} {
		if b, err := os.ReadFile(f); err == nil {
			ids = append(ids, "board:"+strings.TrimSpace(string(b)))
		}
	}
	if ds, err := filepath.Glob("/dev/disk/by-id/*"); err == nil {
		for _, d := range ds {
			// Whole disks only: partitions would count one disk many times.
			if name := filepath.Base(d); !strings.Contains(name, "-part") {
				ids = append(ids, "disk:"+name)
			}
		}
	}
	if len(ids) == 0 {
		return nil, errors.New("verifier: no component of this machine could be read")
	}
	return ComponentsFrom(appID, ids...), nil
}

// componentsRefused reports whether err is a server refusing the
// components member: a server from before components ("unknown field")
// or one that refuses these (invalid_params naming it).
func componentsRefused(err error) bool {
	var e *APIError
	if !errors.As(err, &e) || e.Status != 422 {
		return false
	}
	for _, p := range e.Problem.InvalidParams {
		if p.Name == "components" {
			return true
		}
	}
	return strings.Contains(e.Problem.Detail, `unknown field "components"`)
}
