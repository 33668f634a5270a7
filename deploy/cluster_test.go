package deploy

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// clusterDocs reads the documents of the cluster manifests that the
// kustomization lists (and the ones it leaves commented out), by
// kind/name.
func clusterDocs(t *testing.T) map[string]map[string]any {
	t.Helper()
	dir := filepath.Join("kubernetes", "cluster")
	kust := yamlDocs(t, filepath.Join(dir, "kustomization.yaml"))[0]
	files, _ := kust["resources"].([]any)
	if len(files) == 0 {
		t.Fatal("the cluster kustomization lists no resources")
	}
	docs := map[string]map[string]any{}
	read := func(name string) {
		for _, d := range yamlDocs(t, filepath.Join(dir, name)) {
			kind, _ := d["kind"].(string)
			n, _ := dig(d, "metadata", "name").(string)
			docs[kind+"/"+n] = d
		}
	}
	for _, f := range files {
		read(f.(string))
	}
	read("servicemonitor.yaml")
	return docs
}

// The cluster manifests: N replicas of one Deployment on a PostgreSQL
// and cluster secret from a Secret, each pod's node URL from its own IP
// (downward API) on the port it listens on, probes on /healthz and
// /readyz, media on the node's own addresses (hostNetwork, one pod per
// node), and the Services, Ingress, budget and ServiceMonitor pointing
// at those pods and ports.
func TestClusterManifests(t *testing.T) {
	docs := clusterDocs(t)
	dep := docs["Deployment/wishcast-cluster"]
	if dep == nil {
		t.Fatalf("no Deployment wishcast-cluster among %v", keys(docs))
	}
	if n, _ := dig(dep, "spec", "replicas").(uint64); n < 2 {
		t.Errorf("replicas %v, want several", dig(dep, "spec", "replicas"))
	}
	labels, _ := dig(dep, "spec", "template", "metadata", "labels").(map[string]any)
	selects := func(what string, sel any) {
		m, _ := sel.(map[string]any)
		if len(m) == 0 {
			t.Errorf("%s selects nothing", what)
		}
		for k, v := range m {
			if labels[k] != v {
				t.Errorf("%s selects %s=%v, which the pods do not carry (%v)", what, k, v, labels)
			}
		}
	}
	selects("the Deployment", dig(dep, "spec", "selector", "matchLabels"))

	pod := dig(dep, "spec", "template", "spec").(map[string]any)
	if pod["hostNetwork"] != true || pod["dnsPolicy"] != "ClusterFirstWithHostNet" {
		t.Error("pods must use their node's network (media on the node's own addresses) with cluster DNS")
	}
	anti, _ := dig(pod, "affinity", "podAntiAffinity", "requiredDuringSchedulingIgnoredDuringExecution").([]any)
	if len(anti) != 1 || dig(anti[0], "topologyKey") != "kubernetes.io/hostname" {
		t.Errorf("pods are not kept one per node: %v", anti)
	} else {
		selects("the anti-affinity", dig(anti[0], "labelSelector", "matchLabels"))
	}
	if dig(dep, "spec", "strategy", "rollingUpdate", "maxSurge") != uint64(0) {
		t.Error("a rolling update must not surge: the new pod needs the old one's node ports")
	}
	if dig(pod, "securityContext", "runAsNonRoot") != true {
		t.Error("pods must run as non-root")
	}

	c := pod["containers"].([]any)[0].(map[string]any)
	if dig(c, "securityContext", "readOnlyRootFilesystem") != true {
		t.Error("the container needs a read-only root file system")
	}
	type envVar struct {
		index  int
		value  string
		from   map[string]any
		secret map[string]any
	}
	env := map[string]envVar{}
	for i, e := range c["env"].([]any) {
		e := e.(map[string]any)
		v, _ := e["value"].(string)
		ev := envVar{index: i, value: v}
		ev.from, _ = dig(e, "valueFrom", "fieldRef").(map[string]any)
		ev.secret, _ = dig(e, "valueFrom", "secretKeyRef").(map[string]any)
		env[e["name"].(string)] = ev
	}
	podIP, ok := env["POD_IP"]
	if !ok || podIP.from["fieldPath"] != "status.podIP" {
		t.Fatal("POD_IP does not come from status.podIP")
	}
	if env["WISHCAST_NODE_ID"].from["fieldPath"] != "metadata.name" {
		t.Error("WISHCAST_NODE_ID is not the pod's name")
	}
	ports := map[string]string{}
	for _, p := range c["ports"].([]any) {
		p := p.(map[string]any)
		ports[p["name"].(string)] = fmt.Sprint(p["containerPort"])
		if _, ok := p["hostPort"]; ok {
			t.Errorf("port %v has a hostPort: with hostNetwork the container port is the node's", p["name"])
		}
	}
	for name, port := range map[string]string{"WISHCAST_NODE_URL": "http", "WISHCAST_LISTEN": "http", "WISHCAST_METRICS_LISTEN": "metrics"} {
		v, ok := env[name]
		if !ok {
			t.Errorf("%s is not set", name)
			continue
		}
		if v.index < podIP.index || !strings.Contains(v.value, "$(POD_IP)") {
			t.Errorf("%s=%q is not made from POD_IP (defined before it)", name, v.value)
		}
		addr := strings.TrimPrefix(v.value, "http://")
		if _, p, err := net.SplitHostPort(addr); err != nil || p != ports[port] {
			t.Errorf("%s=%q: port is not the container port %q (%s)", name, v.value, port, ports[port])
		}
	}
	if env["WISHCAST_ICE_UDP_PORT"].value != ports["ice-udp"] || env["WISHCAST_ICE_TCP_PORT"].value != ports["ice-tcp"] {
		t.Errorf("ICE ports %q/%q, container ports %q/%q", env["WISHCAST_ICE_UDP_PORT"].value, env["WISHCAST_ICE_TCP_PORT"].value, ports["ice-udp"], ports["ice-tcp"])
	}
	secret := ""
	for _, name := range []string{"WISHCAST_DATABASE_URL", "WISHCAST_CLUSTER_SECRET"} {
		ref := env[name].secret
		if ref == nil || env[name].value != "" {
			t.Errorf("%s does not come from a Secret", name)
			continue
		}
		if secret == "" {
			secret, _ = ref["name"].(string)
		} else if ref["name"] != secret {
			t.Errorf("%s comes from Secret %v, the other from %s", name, ref["name"], secret)
		}
	}
	kust, err := os.ReadFile(filepath.Join("kubernetes", "cluster", "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if secret == "" || !strings.Contains(string(kust), "create secret generic "+secret) {
		t.Errorf("the kustomization does not say how to create the Secret %q", secret)
	}
	for probe, path := range map[string]string{"livenessProbe": "/healthz", "readinessProbe": "/readyz"} {
		if dig(c, probe, "httpGet", "path") != path || dig(c, probe, "httpGet", "port") != "http" || dig(c, probe, "httpGet", "scheme") != "HTTP" {
			t.Errorf("%s: %v, want HTTP GET %s on port http", probe, dig(c, probe, "httpGet"), path)
		}
	}

	svc := docs["Service/wishcast-cluster"]
	if svc == nil {
		t.Fatal("no Service wishcast-cluster")
	}
	selects("the Service", dig(svc, "spec", "selector"))
	if a, ok := dig(svc, "spec", "sessionAffinity").(string); ok && a != "None" {
		t.Errorf("the Service has session affinity %q: the nodes forward what needs a particular one", a)
	}
	if p := dig(svc, "spec", "ports").([]any)[0]; dig(p, "targetPort") != "http" {
		t.Errorf("the Service targets %v, want the port named http", dig(p, "targetPort"))
	}
	ing := docs["Ingress/wishcast-cluster"]
	backend := dig(dig(ing, "spec", "rules").([]any)[0], "http", "paths").([]any)[0]
	if dig(backend, "backend", "service", "name") != "wishcast-cluster" {
		t.Errorf("the Ingress sends to %v", dig(backend, "backend", "service", "name"))
	}
	selects("the PodDisruptionBudget", dig(docs["PodDisruptionBudget/wishcast-cluster"], "spec", "selector", "matchLabels"))
	metricsSvc := docs["Service/wishcast-cluster-metrics"]
	selects("the metrics Service", dig(metricsSvc, "spec", "selector"))
	sm := docs["ServiceMonitor/wishcast-cluster"]
	for k, v := range dig(sm, "spec", "selector", "matchLabels").(map[string]any) {
		if dig(metricsSvc, "metadata", "labels", k) != v {
			t.Errorf("the ServiceMonitor selects %s=%v, which the metrics Service does not carry", k, v)
		}
	}
}
