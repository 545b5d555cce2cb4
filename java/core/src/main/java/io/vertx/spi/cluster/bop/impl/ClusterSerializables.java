package io.vertx.spi.cluster.bop.impl;

import io.vertx.core.buffer.Buffer;
import io.vertx.core.shareddata.ClusterSerializable;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;

/**
 * The values that write themselves to a buffer: {@code io.vertx.core.shareddata.ClusterSerializable}
 * and, on Vert.x 4, the deprecated {@code io.vertx.core.shareddata.impl.ClusterSerializable} it
 * extends there (Vert.x 4 stores both in cluster-wide maps; Vert.x 5 removed the second). The
 * second is reached by method handles found once, so the shared classes compile against
 * Vert.x 5.
 */
final class ClusterSerializables {

  private static final Class<?> LEGACY;
  private static final MethodHandle LEGACY_WRITE;
  private static final MethodHandle LEGACY_READ;

  static {
    Class<?> type = null;
    MethodHandle write = null;
    MethodHandle read = null;
    try {
      type = Class.forName("io.vertx.core.shareddata.impl.ClusterSerializable", false, Buffer.class.getClassLoader());
      MethodHandles.Lookup lookup = MethodHandles.publicLookup();
      write = lookup.findVirtual(type, "writeToBuffer", MethodType.methodType(void.class, Buffer.class));
      read = lookup.findVirtual(type, "readFromBuffer", MethodType.methodType(int.class, int.class, Buffer.class));
    } catch (ReflectiveOperationException | LinkageError vertx5) {
      type = null;
    }
    LEGACY = type;
    LEGACY_WRITE = write;
    LEGACY_READ = read;
  }

  private ClusterSerializables() {
  }

  static boolean isInstance(Object value) {
    return value instanceof ClusterSerializable || (LEGACY != null && LEGACY.isInstance(value));
  }

  static boolean isType(Class<?> type) {
    return ClusterSerializable.class.isAssignableFrom(type) || (LEGACY != null && LEGACY.isAssignableFrom(type));
  }

  static void write(Object value, Buffer buffer) {
    if (value instanceof ClusterSerializable) {
      ((ClusterSerializable) value).writeToBuffer(buffer);
      return;
    }
    try {
      LEGACY_WRITE.invoke(value, buffer);
    } catch (RuntimeException | Error e) {
      throw e;
    } catch (Throwable checked) {
      throw new IllegalStateException(checked);
    }
  }

  static void read(Object target, Buffer buffer) {
    if (target instanceof ClusterSerializable) {
      ((ClusterSerializable) target).readFromBuffer(0, buffer);
      return;
    }
    try {
      LEGACY_READ.invoke(target, 0, buffer);
    } catch (RuntimeException | Error e) {
      throw e;
    } catch (Throwable checked) {
      throw new IllegalStateException(checked);
    }
  }
}
