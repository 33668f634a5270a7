// Package deploy holds wishcast's deployment files: the container image,
// a compose file, a systemd unit and Kubernetes manifests. Its tests check
// them without Docker or a cluster: the YAML parses, the Kubernetes
// documents are well-formed, the image builds with the README's command and
// the unit passes systemd-analyze verify.
package deploy

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"

	"github.com/wishcast/wishcast/metrics"
)

// yamlDocs parses every document of a YAML file.
func yamlDocs(t *testing.T, path string) []map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []map[string]any
	for {
		var doc map[string]any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if doc != nil {
			docs = append(docs, doc)
		}
	}
}

// yamlFiles lists the YAML files under deploy/.
func yamlFiles(t *testing.T) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ext := filepath.Ext(path); !d.IsDir() && (ext == ".yaml" || ext == ".yml") {
			out = append(out, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) < 5 {
		t.Fatalf("only %d YAML files found: %v", len(out), out)
	}
	return out
}

// Every YAML file parses; every Kubernetes document has apiVersion and
// kind, and the manifests reference each other consistently.
func TestYAML(t *testing.T) {
	kinds := map[string]map[string]any{} // kind/name → document
	for _, path := range yamlFiles(t) {
		docs := yamlDocs(t, path)
		if len(docs) == 0 {
			t.Errorf("%s: no YAML document", path)
		}
		if !strings.HasPrefix(path, "kubernetes"+string(filepath.Separator)) {
			continue
		}
		for i, d := range docs {
			api, _ := d["apiVersion"].(string)
			kind, _ := d["kind"].(string)
			if api == "" || kind == "" {
				t.Errorf("%s: document %d has no apiVersion or kind", path, i+1)
				continue
			}
			name, _ := dig(d, "metadata", "name").(string)
			kinds[kind+"/"+name] = d
		}
	}
	sts := kinds["StatefulSet/wishcast"]
	if sts == nil {
		t.Fatalf("no StatefulSet wishcast among %v", keys(kinds))
	}
	if n, _ := dig(sts, "spec", "replicas").(uint64); n != 1 {
		t.Errorf("StatefulSet replicas %v, want 1", dig(sts, "spec", "replicas"))
	}
	if kinds["Service/"+dig(sts, "spec", "serviceName").(string)] == nil {
		t.Errorf("StatefulSet's serviceName %v is not defined", dig(sts, "spec", "serviceName"))
	}
	c := dig(sts, "spec", "template", "spec", "containers").([]any)[0].(map[string]any)
	env := map[string]string{}
	for _, e := range c["env"].([]any) {
		e := e.(map[string]any)
		v, _ := e["value"].(string)
		env[e["name"].(string)] = v
	}
	for name, want := range map[string]string{"WISHCAST_DATA_DIR": "/data", "WISHCAST_METRICS_LISTEN": ":8190", "WISHCAST_ICE_NAT_1TO1_IPS": "", "WISHCAST_ICE_UDP_PORT": "8189"} {
		if got, ok := env[name]; !ok || (want != "" && got != want) {
			t.Errorf("StatefulSet env %s=%q (set %v), want %q", name, got, ok, want)
		}
	}
	if p := dig(c, "livenessProbe", "httpGet", "path"); p != "/healthz" {
		t.Errorf("liveness probe path %v", p)
	}
	if p := dig(c, "readinessProbe", "httpGet", "path"); p != "/readyz" {
		t.Errorf("readiness probe path %v", p)
	}
	if dig(c, "securityContext", "readOnlyRootFilesystem") != true || dig(sts, "spec", "template", "spec", "securityContext", "runAsNonRoot") != true {
		t.Error("the container must run as non-root with a read-only root file system")
	}
	var hostPorts []string
	for _, p := range c["ports"].([]any) {
		p := p.(map[string]any)
		if _, ok := p["hostPort"]; ok {
			hostPorts = append(hostPorts, p["protocol"].(string))
		}
	}
	if slices.Sort(hostPorts); !slices.Equal(hostPorts, []string{"TCP", "UDP"}) {
		t.Errorf("ICE host ports %v, want UDP and TCP", hostPorts)
	}
	sm := kinds["ServiceMonitor/wishcast"]
	if sm == nil {
		t.Fatal("no ServiceMonitor")
	}
	ep := dig(sm, "spec", "endpoints").([]any)[0].(map[string]any)
	if ep["path"] != "/metrics" || ep["port"] != "metrics" {
		t.Errorf("ServiceMonitor endpoint %v", ep)
	}
	lb := kinds["Service/wishcast-media"]
	if lb == nil || dig(lb, "spec", "type") != "LoadBalancer" {
		t.Error("no UDP LoadBalancer Service wishcast-media")
	}
}

// dig follows map keys.
func dig(v any, path ...string) any {
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func keys(m map[string]map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// readmeBuildLine is the release build command of the README.
func readmeBuildLine(t *testing.T) string {
	t.Helper()
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(readme)) {
		if line = strings.TrimSpace(line); strings.HasPrefix(line, "CGO_ENABLED=0 go build") {
			return line
		}
	}
	t.Fatal("README has no release build line (CGO_ENABLED=0 go build ...)")
	return ""
}

// The image is built by the README's command, on the Go version of go.mod,
// and runs as a non-root user with its data in a volume.
func TestDockerfile(t *testing.T) {
	data, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var stages [][]string // instructions per stage, comments dropped
	sc := bufio.NewScanner(bytes.NewReader(data))
	cont := ""
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if l, ok := strings.CutSuffix(line, "\\"); ok {
			cont += strings.TrimSpace(l) + " "
			continue
		}
		line, cont = cont+line, ""
		if strings.HasPrefix(line, "FROM ") {
			stages = append(stages, nil)
		}
		if len(stages) == 0 {
			t.Fatalf("instruction before FROM: %s", line)
		}
		stages[len(stages)-1] = append(stages[len(stages)-1], line)
	}
	if len(stages) != 2 {
		t.Fatalf("%d stages, want a build stage and a final one", len(stages))
	}
	gomod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(gomod)
	if want := "FROM golang:" + string(goVersion[1]) + " AS build"; stages[0][0] != want {
		t.Errorf("build stage %q, want %q", stages[0][0], want)
	}
	var builds []string
	for _, l := range stages[0] {
		if strings.HasPrefix(l, "RUN ") && strings.Contains(l, " go build ") {
			builds = append(builds, strings.TrimPrefix(l, "RUN "))
		}
	}
	if want := readmeBuildLine(t); len(builds) != 1 || builds[0] != want {
		t.Errorf("build stage runs %q, want exactly the README's %q", builds, want)
	}
	final := strings.Join(stages[1], "\n")
	for _, want := range []string{"EXPOSE 8080/tcp 8189/udp 8189/tcp", "VOLUME /data", "ENV WISHCAST_DATA_DIR=/data"} {
		if !strings.Contains(final, want) {
			t.Errorf("final stage lacks %q", want)
		}
	}
	user := regexp.MustCompile(`(?m)^USER (\S+)`).FindStringSubmatch(final)
	if user == nil || strings.HasPrefix(user[1], "root") || strings.HasPrefix(user[1], "0") {
		t.Errorf("final stage user %v, want a non-root USER", user)
	}
}

// The unit passes systemd-analyze verify (with ExecStart pointed at a fake
// binary through a drop-in, since wishcast is not installed here) and keeps
// its hardening.
func TestSystemdUnit(t *testing.T) {
	unit, err := os.ReadFile("systemd/wishcast.service")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"ExecStart=/usr/local/bin/wishcast", "DynamicUser=yes", "StateDirectory=wishcast",
		"Environment=WISHCAST_DATA_DIR=%S/wishcast", "EnvironmentFile=-/etc/wishcast/wishcast.env",
		"NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes", "PrivateDevices=yes",
		"RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_NETLINK", "SystemCallFilter=@system-service",
		"MemoryDenyWriteExecute=yes", "CapabilityBoundingSet=CAP_NET_BIND_SERVICE", "AmbientCapabilities=CAP_NET_BIND_SERVICE",
	} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(want)).Match(unit) {
			t.Errorf("unit lacks %s", want)
		}
	}
	checkEnvFile(t, "systemd/wishcast.env.example")

	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed: the unit was not verified")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "wishcast.service"), unit, 0o644); err != nil {
		t.Fatal(err)
	}
	fake := filepath.Join(dir, "wishcast")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	dropIn := filepath.Join(dir, "wishcast.service.d")
	if err := os.Mkdir(dropIn, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dropIn, "test.conf"), []byte("[Service]\nExecStart=\nExecStart="+fake+" serve\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(analyze, "verify", filepath.Join(dir, "wishcast.service"))
	// The trailing colon keeps the default search path after dir, whose
	// wishcast.service.d/ holds the drop-in.
	cmd.Env = append(os.Environ(), "SYSTEMD_UNIT_PATH="+dir+":")
	out, err := cmd.CombinedOutput()
	// verify exits 0 on some complaints (an unknown key, a bad value it
	// ignores): any line about the unit fails the test too.
	if err != nil || strings.Contains(string(out), "wishcast.service") {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	t.Logf("systemd-analyze verify: ok (%s)", strings.TrimSpace(firstLine(analyze)))
}

func firstLine(analyze string) string {
	out, _ := exec.Command(analyze, "--version").Output()
	line, _, _ := strings.Cut(string(out), "\n")
	return line
}

// checkEnvFile checks an environment file: comments, blank lines and
// WISHCAST_NAME=value lines only, each name one the README documents.
func checkEnvFile(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	assign := regexp.MustCompile(`^#?(WISHCAST_[A-Z0-9_]+)=`)
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if m := assign.FindStringSubmatch(line); m != nil {
			if !bytes.Contains(readme, []byte("`"+m[1]+"`")) {
				t.Errorf("%s:%d: %s is not a documented setting", path, i+1, m[1])
			}
			continue
		}
		if line != "" && !strings.HasPrefix(line, "#") {
			t.Errorf("%s:%d: not a comment nor WISHCAST_NAME=value: %q", path, i+1, line)
		}
	}
}

// Every WISHCAST_ setting that a deployment file sets is one the README
// documents, so that a typo does not silently do nothing.
func TestSettingNames(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	// Settings of work in progress, tolerated until the README lists them.
	pending := map[string]bool{"WISHCAST_METRICS_LISTEN": true}
	name := regexp.MustCompile(`WISHCAST_[A-Z0-9_]*[A-Z0-9]`)
	files := append(yamlFiles(t), "Dockerfile", filepath.Join("systemd", "wishcast.service"))
	seen := 0
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range name.FindAll(data, -1) {
			seen++
			if bytes.Contains(readme, []byte("`"+string(n)+"`")) {
				continue
			}
			if pending[string(n)] {
				t.Logf("%s: %s is not in the README yet", path, n)
				continue
			}
			t.Errorf("%s: %s is not a setting the README documents", path, n)
		}
	}
	if seen < 10 {
		t.Fatalf("only %d setting names found in %v", seen, files)
	}
}

// The metrics port is one in every file that names it: wishcast's default
// (metrics.Config), the example scrape target, and the StatefulSet's
// setting, container port and headless Service; none is 9090, where
// Prometheus itself listens by default.
func TestMetricsPortAgrees(t *testing.T) {
	f, ok := reflect.TypeFor[metrics.Config]().FieldByName("Listen")
	if !ok {
		t.Fatal("metrics.Config has no Listen")
	}
	_, port, err := net.SplitHostPort(f.Tag.Get("envDefault"))
	if err != nil || port == "" || port == "9090" {
		t.Fatalf("metrics listen by default on %q (%v); want a port of its own", f.Tag.Get("envDefault"), err)
	}
	prom, err := os.ReadFile(filepath.Join("prometheus", "prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(prom), `targets: ["127.0.0.1:`+port+`"]`) {
		t.Errorf("prometheus/prometheus.yml does not scrape 127.0.0.1:%s", port)
	}
	for _, path := range []string{"kubernetes/statefulset.yaml", "kubernetes/service.yaml", "kubernetes/servicemonitor.yaml"} {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "9090") || !strings.Contains(string(b), port) {
			t.Errorf("%s does not name the metrics port %s alone", path, port)
		}
	}
}
