package main

import (
	"regexp"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
)

// A ConfigMap's data may not exceed 1 MiB (the API server refuses it).
const maxConfigMapBytes = 1 << 20

// checkMeta checks what the API server validates of every object's name and labels.
func (c *checker) checkMeta(where, kind string, obj runtime.Object) {
	m, ok := obj.(metav1.Object)
	if !ok {
		return
	}
	nameCheck := validation.IsDNS1123Subdomain
	if kind == "Service" {
		nameCheck = validation.IsDNS1035Label
	}
	for _, e := range nameCheck(m.GetName()) {
		c.problem(where, "name %q: %s", m.GetName(), e)
	}
	checkLabels := func(what string, l map[string]string) {
		for k, v := range l {
			for _, e := range validation.IsQualifiedName(k) {
				c.problem(where, "%s key %q: %s", what, k, e)
			}
			for _, e := range validation.IsValidLabelValue(v) {
				c.problem(where, "%s %s=%q: %s", what, k, v, e)
			}
		}
	}
	checkLabels("label", m.GetLabels())
	for _, p := range podsOf(where, obj) {
		checkLabels("pod template label", p.meta.Labels)
	}
	if cm, ok := obj.(*corev1.ConfigMap); ok {
		size := 0
		for k, v := range cm.Data {
			size += len(k) + len(v)
			for _, e := range validation.IsConfigMapKey(k) {
				c.problem(where, "data key %q: %s", k, e)
			}
		}
		if size > maxConfigMapBytes {
			c.problem(where, "data is %d bytes, over the 1 MiB a ConfigMap may hold", size)
		}
	}
	if sel := workloadSelector(obj); sel != nil {
		tpl := podsOf(where, obj)[0]
		if !selects(sel, tpl.meta.Labels) {
			c.problem(where, "selector %s does not match its pod template's labels", metav1.FormatLabelSelector(sel))
		}
	}
}

func workloadSelector(obj runtime.Object) *metav1.LabelSelector {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		return o.Spec.Selector
	case *appsv1.StatefulSet:
		return o.Spec.Selector
	case *appsv1.DaemonSet:
		return o.Spec.Selector
	}
	return nil
}

func selects(sel *metav1.LabelSelector, l map[string]string) bool {
	s, err := metav1.LabelSelectorAsSelector(sel)
	return err == nil && !s.Empty() && s.Matches(labels.Set(l))
}

// A $(VAR) reference in command/args; $$(VAR) is an escaped literal.
var varRef = regexp.MustCompile(`\$+\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// checkPodSpec checks references inside one pod: volumes, named ports, $(VAR) expansions.
func (c *checker) checkPodSpec(p podTemplate) {
	volumes := map[string]bool{}
	for _, v := range p.spec.Volumes {
		if volumes[v.Name] {
			c.problem(p.owner, "volume %q is declared twice", v.Name)
		}
		volumes[v.Name] = true
	}
	used := map[string]bool{}
	names := map[string]bool{}
	for _, ct := range allContainers(p.spec) {
		if names[ct.Name] {
			c.problem(p.owner, "container name %q is used twice", ct.Name)
		}
		names[ct.Name] = true
		mounts := map[string]bool{}
		for _, m := range ct.VolumeMounts {
			used[m.Name] = true
			if !volumes[m.Name] {
				c.problem(p.owner, "container %q mounts volume %q, which the pod does not declare", ct.Name, m.Name)
			}
			if mounts[m.MountPath] {
				c.problem(p.owner, "container %q mounts two volumes at %s", ct.Name, m.MountPath)
			}
			mounts[m.MountPath] = true
		}
		c.checkNamedPorts(p.owner, ct)
		c.checkVarRefs(p.owner, ct)
	}
	for name := range volumes {
		if !used[name] {
			c.problem(p.owner, "volume %q is declared but no container mounts it", name)
		}
	}
}

func (c *checker) checkNamedPorts(owner string, ct corev1.Container) {
	ports := map[string]bool{}
	for _, p := range ct.Ports {
		if p.Name != "" {
			ports[p.Name] = true
		}
	}
	check := func(what string, port intstr.IntOrString) {
		if port.Type == intstr.String && !ports[port.StrVal] {
			c.problem(owner, "container %q: %s uses port %q, which the container does not name", ct.Name, what, port.StrVal)
		}
	}
	for what, probe := range map[string]*corev1.Probe{
		"livenessProbe": ct.LivenessProbe, "readinessProbe": ct.ReadinessProbe, "startupProbe": ct.StartupProbe,
	} {
		if probe == nil {
			continue
		}
		if probe.HTTPGet != nil {
			check(what, probe.HTTPGet.Port)
		}
		if probe.TCPSocket != nil {
			check(what, probe.TCPSocket.Port)
		}
	}
}

// checkVarRefs: Kubernetes leaves an undefined $(VAR) in command/args as literal text, so a typo
// or a missing env entry would reach the program as "$(VAR)".
func (c *checker) checkVarRefs(owner string, ct corev1.Container) {
	if len(ct.EnvFrom) > 0 {
		return // names come from a ConfigMap or Secret the manifest does not show
	}
	env := map[string]bool{}
	for _, e := range ct.Env {
		env[e.Name] = true
	}
	for _, arg := range append(append([]string{}, ct.Command...), ct.Args...) {
		for _, m := range varRef.FindAllStringSubmatch(arg, -1) {
			dollars := len(m[0]) - len(m[1]) - 2
			if dollars%2 == 1 && !env[m[1]] {
				c.problem(owner, "container %q: argument %q refers to $(%s), which is not in its env", ct.Name, arg, m[1])
			}
		}
	}
}

// checkReferences checks what objects say about each other: every selector selects a pod of the
// render, named ports exist on the pods they point at, service accounts exist.
func (c *checker) checkReferences() {
	accounts := map[string]bool{}
	services := map[string]*corev1.Service{}
	for _, o := range c.objects {
		switch v := o.(type) {
		case *corev1.ServiceAccount:
			accounts[v.Name] = true
		case *corev1.Service:
			services[v.Name] = v
		}
	}
	for _, p := range c.pods {
		if sa := p.spec.ServiceAccountName; sa != "" && sa != "default" && !accounts[sa] {
			c.problem(p.owner, "serviceAccountName %q is not a ServiceAccount of this render", sa)
		}
	}
	for _, o := range c.objects {
		where := kindOf(o) + "/" + objectName(o)
		switch v := o.(type) {
		case *corev1.Service:
			if v.Spec.Selector == nil {
				continue
			}
			pods := c.selected(&metav1.LabelSelector{MatchLabels: v.Spec.Selector})
			if len(pods) == 0 {
				c.problem(where, "selector %v matches no pod of this render", v.Spec.Selector)
			}
			for _, sp := range v.Spec.Ports {
				if sp.TargetPort.Type == intstr.String {
					c.requirePortName(where, pods, sp.TargetPort.StrVal)
				}
			}
		case *policyv1.PodDisruptionBudget:
			if len(c.selected(v.Spec.Selector)) == 0 {
				c.problem(where, "selector matches no pod of this render")
			}
		case *networkingv1.NetworkPolicy:
			c.checkNetworkPolicy(where, v)
		case *monitoringv1.ServiceMonitor:
			matched := 0
			for _, s := range services {
				if selects(&v.Spec.Selector, s.Labels) {
					matched++
					for _, ep := range v.Spec.Endpoints {
						if ep.Port != "" && !servicePortNamed(s, ep.Port) {
							c.problem(where, "endpoint port %q is not a port of Service %s", ep.Port, s.Name)
						}
					}
				}
			}
			if matched == 0 {
				c.problem(where, "selector matches no Service of this render")
			}
		case *monitoringv1.PodMonitor:
			pods := c.selected(&v.Spec.Selector)
			if len(pods) == 0 {
				c.problem(where, "selector matches no pod of this render")
			}
			for _, ep := range v.Spec.PodMetricsEndpoints {
				if ep.Port != "" {
					c.requirePortName(where, pods, ep.Port)
				}
			}
		}
	}
}

func (c *checker) checkNetworkPolicy(where string, np *networkingv1.NetworkPolicy) {
	pods := c.selected(&np.Spec.PodSelector)
	if len(pods) == 0 && len(np.Spec.PodSelector.MatchLabels)+len(np.Spec.PodSelector.MatchExpressions) > 0 {
		c.problem(where, "podSelector matches no pod of this render")
	}
	for i, rule := range np.Spec.Ingress {
		for _, peer := range rule.From {
			// A peer without a namespace selector names pods of this namespace: they should exist.
			if peer.PodSelector != nil && peer.NamespaceSelector == nil && len(c.selected(peer.PodSelector)) == 0 {
				c.problem(where, "ingress rule %d: peer %s matches no pod of this render", i, metav1.FormatLabelSelector(peer.PodSelector))
			}
		}
		for _, port := range rule.Ports {
			if port.Port != nil && port.Port.Type == intstr.String {
				c.requirePortName(where, pods, port.Port.StrVal)
			}
		}
	}
}

// selected returns the pods of the render a selector matches (an empty selector matches none here).
func (c *checker) selected(sel *metav1.LabelSelector) []podTemplate {
	var out []podTemplate
	for _, p := range c.pods {
		if selects(sel, p.meta.Labels) {
			out = append(out, p)
		}
	}
	return out
}

// requirePortName: every pod must have a container port of that name, or the reference matches nothing there.
func (c *checker) requirePortName(where string, pods []podTemplate, name string) {
	for _, p := range pods {
		found := false
		for _, ct := range p.spec.Containers {
			for _, port := range ct.Ports {
				found = found || port.Name == name
			}
		}
		if !found {
			c.problem(where, "port %q is not a container port of %s", name, p.owner)
		}
	}
}

func servicePortNamed(s *corev1.Service, name string) bool {
	for _, p := range s.Spec.Ports {
		if p.Name == name {
			return true
		}
	}
	return strings.TrimSpace(name) == ""
}
