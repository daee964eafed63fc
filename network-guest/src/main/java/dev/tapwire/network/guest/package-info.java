/**
 * Real QEMU guests on tapwire TAPs: {@link dev.tapwire.network.guest.GuestImage} builds the image from Debian
 * packages, {@link dev.tapwire.network.guest.Guest} boots it and drives its serial console.
 */
package dev.tapwire.network.guest;
