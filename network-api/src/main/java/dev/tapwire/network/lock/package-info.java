/**
 * A lock on a file that orders threads of one JVM and separate processes alike.
 */
package dev.tapwire.network.lock;
