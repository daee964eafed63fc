/**
 * Internal, not API: the safe Linux layer over JNA — TAP devices, interface ioctls, a small rtnetlink client and
 * network namespaces of the calling thread — that the {@code dev.tapwire.network.bridge} backend is built on. Never
 * reads {@code /sys}.
 *
 * <p>The module does not export this package: on the module path it cannot be used. On the class path its public
 * types are visible but carry no compatibility promise — they change with the backend, without notice. Use the
 * backend's public types instead: {@link dev.tapwire.network.bridge.HostLinks} to list interfaces,
 * {@link dev.tapwire.network.bridge.TapEndpoint} for the VMM's end of a TAP and
 * {@link dev.tapwire.network.bridge.NetworkNamespaces} to run work in a network namespace.
 */
package dev.tapwire.network.bridge.linux;
