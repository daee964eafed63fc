/**
 * The safe Linux layer over JNA: TAP devices, interface ioctls, a small rtnetlink client and network namespaces of the calling thread. Never reads {@code /sys}.
 */
package dev.tapwire.network.bridge.linux;
