package io.vertx.spi.cluster.bop.impl;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InvalidClassException;
import java.io.ObjectInputFilter;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.ObjectStreamClass;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Which classes a value read from the cluster may be, and Java serialization held to them: the
 * safety half of {@link BopValueCodec}.
 *
 * <p>Entries are exact class names ({@code com.acme.Point}, nested classes with {@code $}),
 * {@code pkg.*} (classes of that package) or {@code pkg.**} (that package and its subpackages);
 * arrays of allowed classes and of primitives are allowed. Java serialization reads through an
 * {@link ObjectInputStream} whose {@code resolveClass} admits only allowed classes and throws
 * {@link InvalidClassException} naming any other, before the class is loaded, so a gadget's
 * {@code readObject} never runs; proxies are refused, arrays claiming more elements than there are
 * bytes are rejected before allocation, and a graph nested deeper than {@link #MAX_DEPTH} levels or
 * holding more than {@link #MAX_REFERENCES} references is refused as soon as the stream shows it.
 * Writing applies the same list, so a value no node could read is refused when it is written.
 *
 * <p>Classes are loaded through the thread context class loader, then the fallback loader. Instances
 * are immutable and thread-safe.
 */
final class SerializationAllowList {

  /** Classes Java serialization may carry without configuration. */
  public static final List<String> DEFAULT_ALLOWED = Collections.unmodifiableList(Arrays.asList(
    "java.lang.*", "java.util.*", "java.time.*", "java.math.*", "io.vertx.core.json.*"));

  /** The deepest object graph Java serialization may read: 2^20 operations at worst. */
  public static final int MAX_DEPTH = 20;
  /** The most object references one Java-serialized value may hold. */
  public static final long MAX_REFERENCES = 1_000_000;

  private static final Set<String> PRIMITIVES = new HashSet<>(Arrays.asList(
    "boolean", "byte", "char", "short", "int", "long", "float", "double", "void"));

  private final ClassLoader fallback;
  private final List<String> allowed;
  private final Set<String> exactClasses = new HashSet<>();
  /** {@code pkg.*} entries, stored as {@code "pkg."}: classes directly in the package. */
  private final List<String> packages = new ArrayList<>();
  /** {@code pkg.**} entries, stored as {@code "pkg."}: the package and its subpackages. */
  private final List<String> packageTrees = new ArrayList<>();

  /**
   * @param fallback the class loader used when the thread context class loader cannot load a
   *                 class (null: this class's loader)
   * @param extraAllowed allow-list entries added to {@link #DEFAULT_ALLOWED} (null: none); each an
   *                     exact class name, {@code pkg.*} or {@code pkg.**}; blank entries are ignored
   * @throws IllegalArgumentException for a malformed entry
   */
  SerializationAllowList(ClassLoader fallback, Collection<String> extraAllowed) {
    this.fallback = fallback != null ? fallback : SerializationAllowList.class.getClassLoader();
    Set<String> entries = new LinkedHashSet<>(DEFAULT_ALLOWED);
    if (extraAllowed != null) {
      for (String entry : extraAllowed) {
        if (entry != null && !entry.trim().isEmpty()) {
          entries.add(entry.trim());
        }
      }
    }
    for (String entry : entries) {
      addAllowed(entry);
    }
    this.allowed = Collections.unmodifiableList(new ArrayList<>(entries));
  }

  private void addAllowed(String entry) {
    String body;
    List<String> target;
    if (entry.endsWith(".**")) {
      body = entry.substring(0, entry.length() - 3);
      target = packageTrees;
    } else if (entry.endsWith(".*")) {
      body = entry.substring(0, entry.length() - 2);
      target = packages;
    } else {
      body = entry;
      target = null;
    }
    if (body.isEmpty() || body.startsWith(".") || body.endsWith(".") || body.contains("..")
      || body.contains("*") || body.contains("/") || body.chars().anyMatch(Character::isWhitespace)) {
      throw new IllegalArgumentException("malformed serialization allow-list entry '" + entry
        + "': expected a class name, pkg.* or pkg.**");
    }
    if (target == null) {
      exactClasses.add(body);
    } else {
      target.add(body + ".");
    }
  }

  /** The allow-list in force: the defaults, then the caller's entries. */
  List<String> allowed() {
    return allowed;
  }

  /** True when Java serialization may carry the class of that name (array names included). */
  boolean isAllowed(String className) {
    String name = className;
    if (name.startsWith("[")) {
      int dims = 0;
      while (dims < name.length() && name.charAt(dims) == '[') {
        dims++;
      }
      String component = name.substring(dims);
      if (component.length() == 1) {
        return "ZBCSIJFD".contains(component);
      }
      if (!component.startsWith("L") || !component.endsWith(";")) {
        return false;
      }
      name = component.substring(1, component.length() - 1);
    }
    if (PRIMITIVES.contains(name) || exactClasses.contains(name)) {
      return true;
    }
    for (String tree : packageTrees) {
      if (name.startsWith(tree)) {
        return true;
      }
    }
    for (String pkg : packages) {
      if (name.startsWith(pkg) && name.indexOf('.', pkg.length()) < 0) {
        return true;
      }
    }
    return false;
  }

  /** {@code tag}, then {@code value} as Java serialization writes it, each class checked. */
  byte[] serialize(Object value, byte tag) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream(128);
    bytes.write(tag);
    try (ObjectOutputStream out = new AllowListObjectOutputStream(bytes)) {
      out.writeObject(value);
    } catch (InvalidClassException e) {
      throw new IllegalArgumentException("cannot store a " + value.getClass().getName()
        + " in a cluster-wide map: " + e.getMessage(), e);
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot serialize a " + value.getClass().getName() + ": " + e, e);
    }
    return bytes.toByteArray();
  }

  /** The class of that name, through the thread context class loader, then the fallback. */
  Class<?> loadClass(String className) {
    ClassNotFoundException failure = null;
    ClassLoader context = Thread.currentThread().getContextClassLoader();
    if (context != null) {
      try {
        return Class.forName(className, false, context);
      } catch (ClassNotFoundException e) {
        failure = e;
      }
    }
    if (fallback != context) {
      try {
        return Class.forName(className, false, fallback);
      } catch (ClassNotFoundException e) {
        failure = e;
      }
    }
    throw new IllegalArgumentException("class " + className
      + " not found by the thread context class loader nor by " + fallback, failure);
  }

  /** The object Java serialization wrote after the tag byte {@code bytes[0]}. */
  Object deserialize(byte[] bytes) {
    AllowListObjectInputStream in = null;
    try {
      in = new AllowListObjectInputStream(bytes);
      Object value;
      try {
        value = in.readObject();
      } finally {
        in.close();
      }
      if (value == null) {
        // encode never writes one: a null is no value (found by BopValueCodecFuzzTest).
        throw new IllegalArgumentException("a Java-serialized null is not a value");
      }
      return value;
    } catch (InvalidClassException e) {
      String why = in != null && in.rejection != null ? in.rejection : e.getMessage();
      throw new IllegalArgumentException("refused to deserialize a value: " + why, e);
    } catch (IOException | ClassNotFoundException | RuntimeException e) {
      throw new IllegalArgumentException("cannot deserialize a value: " + e, e);
    }
  }

  private InvalidClassException refusal(String className) {
    return new InvalidClassException(className,
      "class not allowed for Java serialization by the cluster manager (allowed: " + allowed + ")");
  }

  /** Java serialization output that refuses, class by class, what the input side would refuse. */
  private final class AllowListObjectOutputStream extends ObjectOutputStream {

    /** Set at the first refusal: ObjectOutputStream then serializes the exception into the (discarded) stream. */
    private boolean refused;

    AllowListObjectOutputStream(ByteArrayOutputStream out) throws IOException {
      super(out);
    }

    @Override
    protected void annotateClass(Class<?> cl) throws IOException {
      if (!refused && !isAllowed(cl.getName())) {
        refused = true;
        throw refusal(cl.getName());
      }
    }

    @Override
    protected void annotateProxyClass(Class<?> cl) throws IOException {
      throw new InvalidClassException(cl.getName(), "proxy classes are never deserialized");
    }
  }

  /** Java serialization input that resolves only allowed classes. */
  private final class AllowListObjectInputStream extends ObjectInputStream {

    /** Why the filter refused the stream, for the error. */
    String rejection;

    AllowListObjectInputStream(byte[] bytes) throws IOException {
      super(new ByteArrayInputStream(bytes, 1, bytes.length - 1));
      long limit = bytes.length;
      ObjectInputFilter inherited = getObjectInputFilter();
      setObjectInputFilter(info -> {
        // an array element takes at least one byte of the stream: a longer claim is a lie, and
        // allocating it first would let a small value exhaust the heap
        if (info.arrayLength() > limit) {
          return reject("an array claims " + info.arrayLength() + " elements in a value of " + limit + " bytes");
        }
        if (info.depth() > MAX_DEPTH) {
          return reject("its object graph is nested deeper than " + MAX_DEPTH + " levels");
        }
        if (info.references() > MAX_REFERENCES) {
          return reject("it holds more than " + MAX_REFERENCES + " object references");
        }
        return inherited != null ? inherited.checkInput(info) : ObjectInputFilter.Status.UNDECIDED;
      });
    }

    private ObjectInputFilter.Status reject(String why) {
      if (rejection == null) {
        rejection = why;
      }
      return ObjectInputFilter.Status.REJECTED;
    }

    @Override
    protected Class<?> resolveClass(ObjectStreamClass desc) throws IOException, ClassNotFoundException {
      String name = desc.getName();
      if (!isAllowed(name)) {
        throw refusal(name);
      }
      if (PRIMITIVES.contains(name)) {
        return super.resolveClass(desc);
      }
      ClassLoader context = Thread.currentThread().getContextClassLoader();
      if (context != null) {
        try {
          return Class.forName(name, false, context);
        } catch (ClassNotFoundException ignore) {
          // try the fallback
        }
      }
      try {
        return Class.forName(name, false, fallback);
      } catch (ClassNotFoundException e) {
        return super.resolveClass(desc);
      }
    }

    @Override
    protected Class<?> resolveProxyClass(String[] interfaces) throws IOException {
      throw new InvalidClassException(String.join(",", interfaces), "proxy classes are never deserialized");
    }
  }
}
