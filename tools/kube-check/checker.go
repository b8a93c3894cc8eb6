package main

import (
	"fmt"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	psapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
)

// podTemplate is one pod an object would create (a Pod itself, or a workload's template).
type podTemplate struct {
	owner string // "Deployment/rs-router"
	meta  *metav1.ObjectMeta
	spec  *corev1.PodSpec
}

type policyOptions struct {
	readOnlyRoot bool
	noToken      bool
	// The namespace the objects would be created in when they name none.
	namespace string
}

type checker struct {
	decoder   runtime.Decoder
	evaluator policy.Evaluator
	level     psapi.LevelVersion
	opts      policyOptions
	namespace string

	summaries []ObjectSummary
	problems  []string
	objects   []runtime.Object
	pods      []podTemplate
}

func newChecker(level psapi.LevelVersion, opts policyOptions) *checker {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, batchv1.AddToScheme, policyv1.AddToScheme,
		networkingv1.AddToScheme, rbacv1.AddToScheme, autoscalingv2.AddToScheme, monitoringv1.AddToScheme,
	} {
		if err := add(scheme); err != nil {
			fail(err)
		}
	}
	evaluator, err := policy.NewEvaluator(policy.DefaultChecks())
	if err != nil {
		fail(err)
	}
	// EnableStrict: unknown and duplicate fields are decoding errors, as `kubectl apply
	// --validate=strict` and the API server's strict field validation make them.
	codecs := serializer.NewCodecFactory(scheme, serializer.EnableStrict)
	return &checker{decoder: codecs.UniversalDeserializer(), evaluator: evaluator, level: level, opts: opts, namespace: opts.namespace}
}

func (c *checker) problem(where, format string, args ...any) {
	c.problems = append(c.problems, where+": "+fmt.Sprintf(format, args...))
}

// add decodes one document strictly and evaluates the pods it would create.
func (c *checker) add(d document) {
	where := fmt.Sprintf("%s document %d", d.source, d.index)
	obj, gvk, err := c.decoder.Decode(d.data, nil, nil)
	if err != nil && (obj == nil || gvk == nil || !runtime.IsStrictDecodingError(err)) {
		c.problem(where, "%v", err)
		return
	}
	name := objectName(obj)
	where = fmt.Sprintf("%s/%s", gvk.Kind, name)
	if err != nil {
		// Strict errors still decode the rest: report them and check the object as well.
		c.problem(where, "%v", err)
	}
	c.summaries = append(c.summaries, ObjectSummary{Kind: gvk.Kind, Name: name})
	c.objects = append(c.objects, obj)
	c.checkMeta(where, gvk.Kind, obj)
	c.validateAsAPIServer(where, *gvk, obj)
	for _, p := range podsOf(where, obj) {
		c.pods = append(c.pods, p)
		c.checkPodSecurity(p)
		c.checkPodSpec(p)
	}
}

func objectName(obj runtime.Object) string {
	if m, ok := obj.(metav1.Object); ok {
		return m.GetName()
	}
	return "?"
}

// podsOf returns the pods an object creates: a Pod itself, or a workload's pod template.
func podsOf(where string, obj runtime.Object) []podTemplate {
	switch o := obj.(type) {
	case *corev1.Pod:
		return []podTemplate{{where, &o.ObjectMeta, &o.Spec}}
	case *appsv1.Deployment:
		return []podTemplate{{where, &o.Spec.Template.ObjectMeta, &o.Spec.Template.Spec}}
	case *appsv1.StatefulSet:
		return []podTemplate{{where, &o.Spec.Template.ObjectMeta, &o.Spec.Template.Spec}}
	case *appsv1.DaemonSet:
		return []podTemplate{{where, &o.Spec.Template.ObjectMeta, &o.Spec.Template.Spec}}
	case *appsv1.ReplicaSet:
		return []podTemplate{{where, &o.Spec.Template.ObjectMeta, &o.Spec.Template.Spec}}
	case *batchv1.Job:
		return []podTemplate{{where, &o.Spec.Template.ObjectMeta, &o.Spec.Template.Spec}}
	case *batchv1.CronJob:
		t := &o.Spec.JobTemplate.Spec.Template
		return []podTemplate{{where, &t.ObjectMeta, &t.Spec}}
	}
	return nil
}

// checkPodSecurity runs Pod Security admission's checks of the level on one pod.
func (c *checker) checkPodSecurity(p podTemplate) {
	results := c.evaluator.EvaluatePod(c.level, p.meta, p.spec)
	agg := policy.AggregateCheckResults(results)
	if !agg.Allowed {
		c.problem(p.owner, "violates PodSecurity %q: %s", c.level.String(), agg.ForbiddenDetail())
	}
	if c.opts.noToken {
		if p.spec.AutomountServiceAccountToken == nil || *p.spec.AutomountServiceAccountToken {
			c.problem(p.owner, "mounts a service account token (set automountServiceAccountToken: false)")
		}
	}
	if c.opts.readOnlyRoot {
		for _, ct := range allContainers(p.spec) {
			sc := ct.SecurityContext
			if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
				c.problem(p.owner, "container %q: root filesystem is writable (set readOnlyRootFilesystem: true)", ct.Name)
			}
		}
	}
}

// allContainers lists init and regular containers (ephemeral ones are never in a manifest).
func allContainers(spec *corev1.PodSpec) []corev1.Container {
	out := append([]corev1.Container{}, spec.InitContainers...)
	return append(out, spec.Containers...)
}

func kindOf(obj runtime.Object) string {
	t := fmt.Sprintf("%T", obj)
	return t[strings.LastIndex(t, ".")+1:]
}
