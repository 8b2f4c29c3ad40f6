package config

// GoMemLimitPercent is the share of CONTAINER_MEMORY_LIMIT the Go runtime
// gets as its soft memory limit. That limit counts only what the runtime
// manages (heap, stacks, its own structures) and is soft (the collector
// may overshoot it briefly); the cgroup also counts what the runtime does
// not (kernel socket buffers, the binary's file-backed pages), so the
// collector must work harder before the container reaches its limit, not
// at it: 10% (12.8 MiB of 128Mi) is left for those.
const GoMemLimitPercent = 90

// Bounds of CONTAINER_MEMORY_LIMIT: under 32 MiB the worker cannot run (it
// sits at about 28 MiB idle); above 1 TiB the number is not a container's.
const (
	minContainerMemory = 32 << 20
	maxContainerMemory = 1 << 40
)

// memory checks CONTAINER_MEMORY_LIMIT.
func (v *validator) memory(c *Config) {
	if c.ContainerMemoryLimit == 0 {
		return
	}
	if c.ContainerMemoryLimit < minContainerMemory || c.ContainerMemoryLimit > maxContainerMemory {
		v.add("CONTAINER_MEMORY_LIMIT", "must be a number of bytes from %d (32 MiB) to %d (1 TiB), got %d (Kubernetes: resourceFieldRef limits.memory, divisor 1)",
			int64(minContainerMemory), int64(maxContainerMemory), c.ContainerMemoryLimit)
	}
}

// GoMemoryLimit is the soft memory limit for the Go runtime
// (debug.SetMemoryLimit), in bytes: GoMemLimitPercent of
// CONTAINER_MEMORY_LIMIT; 0, leave it alone, when that is unset or
// GOMEMLIMIT is set (the runtime has applied it).
func (c *Config) GoMemoryLimit() int64 {
	if c.GoMemLimit != "" || c.ContainerMemoryLimit == 0 {
		return 0
	}
	return c.ContainerMemoryLimit * GoMemLimitPercent / 100
}
