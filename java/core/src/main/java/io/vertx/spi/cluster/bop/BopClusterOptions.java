package io.vertx.spi.cluster.bop;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import java.util.function.Function;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

/**
 * Settings of a {@link BopClusterManager}. Each setting is taken, in order, from this object
 * (when set), the system property {@code vertx.bop.<name>}, the environment variable of the
 * product sheet where there is one ({@code VERTX_CLUSTER_HOST}, {@code VERTX_CLUSTER_PORT},
 * {@code VERTX_CLUSTER_TIMEOUT}, {@code VERTX_CLUSTER_PING_INTERVAL}) or of ours
 * ({@code VERTX_CLUSTER_PUBLIC_HOST}, {@code VERTX_CLUSTER_PUBLIC_PORT}, {@code VERTX_CLUSTER_SECRET}),
 * then the default. A
 * malformed property or variable is an {@link IllegalArgumentException} naming it.
 *
 * <table>
 *   <caption>Settings</caption>
 *   <tr><th>setting</th><th>property / variable</th><th>default</th></tr>
 *   <tr><td>clusterName</td><td>vertx.bop.clusterName</td><td>{@code vertx-bop}</td></tr>
 *   <tr><td>host</td><td>vertx.bop.host / VERTX_CLUSTER_HOST</td><td>{@code 127.0.0.1}</td></tr>
 *   <tr><td>port</td><td>vertx.bop.port / VERTX_CLUSTER_PORT</td><td>0 (any free port)</td></tr>
 *   <tr><td>publicHost</td><td>vertx.bop.publicHost / VERTX_CLUSTER_PUBLIC_HOST</td><td>the host; for a
 *   wildcard host ({@code 0.0.0.0}, {@code ::}), this machine's one routable address</td></tr>
 *   <tr><td>publicPort</td><td>vertx.bop.publicPort / VERTX_CLUSTER_PUBLIC_PORT</td><td>0 (the bound port)</td></tr>
 *   <tr><td>seeds</td><td>vertx.bop.seeds (comma separated host:port)</td><td>none: local discovery</td></tr>
 *   <tr><td>dnsName, dnsPort</td><td>vertx.bop.dnsName, vertx.bop.dnsPort</td><td>none</td></tr>
 *   <tr><td>failureTimeout (ms)</td><td>vertx.bop.timeout / VERTX_CLUSTER_TIMEOUT</td><td>20000</td></tr>
 *   <tr><td>pingInterval (ms)</td><td>vertx.bop.pingInterval / VERTX_CLUSTER_PING_INTERVAL</td><td>20000</td></tr>
 *   <tr><td>voters</td><td>vertx.bop.voters</td><td>3</td></tr>
 *   <tr><td>requestTimeout (ms)</td><td>vertx.bop.requestTimeout</td><td>10000</td></tr>
 *   <tr><td>joinTimeout (ms)</td><td>vertx.bop.joinTimeout</td><td>30000</td></tr>
 *   <tr><td>tick (ms)</td><td>vertx.bop.tick</td><td>25</td></tr>
 *   <tr><td>maxFrameSize (bytes)</td><td>vertx.bop.maxFrameSize</td><td>16777216</td></tr>
 *   <tr><td>serializableAllowList</td><td>vertx.bop.serializableAllowList (comma separated)</td><td>none beyond the codec's defaults</td></tr>
 *   <tr><td>secret</td><td>vertx.bop.secret / VERTX_CLUSTER_SECRET</td><td>none</td></tr>
 *   <tr><td>secretFile</td><td>vertx.bop.secretFile</td><td>none</td></tr>
 *   <tr><td>insecure</td><td>vertx.bop.insecure</td><td>false</td></tr>
 *   <tr><td>failureDomain</td><td>vertx.bop.failureDomain / VERTX_CLUSTER_FAILURE_DOMAIN</td><td>none:
 *   this JVM (the leader keeps the voters in separate failure domains, such as racks or zones,
 *   then on separate hosts, where the members allow it)</td></tr>
 * </table>
 *
 * <p>The cluster secret (at least 16 bytes) is what members authenticate each other with. It is
 * given directly or as a file holding it (surrounding whitespace ignored); at one level of the
 * order above, giving both is an error, and the first level that gives either wins: the object,
 * then the system properties, then {@code VERTX_CLUSTER_SECRET}. Without a secret, nodes found
 * through local discovery share one generated on this host, and nodes with seeds or a DNS name
 * refuse to start unless {@code insecure} is set. The secret is never printed by
 * {@link #toString()}.
 *
 * <p>The same settings come from JSON ({@link #BopClusterOptions(JsonObject)}, for example from a
 * Vert.x config file), under the names of the first column: strings, numbers, booleans, and
 * {@code seeds} and {@code serializableAllowList} as arrays of strings (or one comma-separated
 * string). A name not listed, or a value of the wrong type, is an {@link IllegalArgumentException}
 * naming it. {@link #toJson()} gives back what was set on this object (not the properties,
 * variables or defaults behind it), without the secret itself.
 */
public class BopClusterOptions {

  private String clusterName;
  private String host;
  private Integer port;
  private String publicHost;
  private Integer publicPort;
  private List<String> seeds;
  private String dnsName;
  private Integer dnsPort;
  private Long failureTimeout;
  private Long pingInterval;
  private Integer voters;
  private Long requestTimeout;
  private Long joinTimeout;
  private Long tick;
  private Long maxFrameSize;
  private List<String> serializableAllowList;
  private String secret;
  private String secretFile;
  private Boolean insecure;
  private String failureDomain;

  public BopClusterOptions() {
  }

  /** Options from JSON: see the class documentation for the names and types. */
  public BopClusterOptions(JsonObject json) {
    for (String key : json.fieldNames()) {
      Object value = json.getValue(key);
      if (value == null) {
        continue;
      }
      switch (key) {
        case "clusterName": clusterName = jsonText(key, value); break;
        case "host": host = jsonText(key, value); break;
        case "port": port = (int) jsonNumber(key, value, 0, 65535); break;
        case "publicHost": publicHost = jsonText(key, value); break;
        case "publicPort": publicPort = (int) jsonNumber(key, value, 0, 65535); break;
        case "seeds": seeds = jsonList(key, value); break;
        case "dnsName": dnsName = jsonText(key, value); break;
        case "dnsPort": dnsPort = (int) jsonNumber(key, value, 0, 65535); break;
        case "failureTimeout": failureTimeout = jsonNumber(key, value, 1, Long.MAX_VALUE); break;
        case "pingInterval": pingInterval = jsonNumber(key, value, 1, Long.MAX_VALUE); break;
        case "voters": voters = (int) jsonNumber(key, value, 1, 99); break;
        case "requestTimeout": requestTimeout = jsonNumber(key, value, 1, Long.MAX_VALUE); break;
        case "joinTimeout": joinTimeout = jsonNumber(key, value, 1, Long.MAX_VALUE); break;
        case "tick": tick = jsonNumber(key, value, 1, 10000); break;
        case "maxFrameSize": maxFrameSize = jsonNumber(key, value, 4096, Integer.MAX_VALUE); break;
        case "serializableAllowList": serializableAllowList = jsonList(key, value); break;
        case "secret": secret = jsonText(key, value); break;
        case "secretFile": secretFile = jsonText(key, value); break;
        case "insecure":
          if (!(value instanceof Boolean)) {
            throw new IllegalArgumentException("Cluster option insecure must be true or false, not " + value);
          }
          insecure = (Boolean) value;
          break;
        case "failureDomain": failureDomain = jsonText(key, value); break;
        default:
          throw new IllegalArgumentException("Unknown cluster option " + key + " (known: clusterName, host, port, publicHost, publicPort, seeds, dnsName, "
            + "dnsPort, failureTimeout, pingInterval, voters, requestTimeout, joinTimeout, tick, maxFrameSize, "
            + "serializableAllowList, secret, secretFile, insecure, failureDomain)");
      }
    }
  }

  /** What was set on this object, as JSON ({@link #BopClusterOptions(JsonObject)} reads it back); the secret itself is left out. */
  public JsonObject toJson() {
    JsonObject json = new JsonObject();
    json.put("clusterName", clusterName).put("host", host).put("port", port)
      .put("publicHost", publicHost).put("publicPort", publicPort);
    if (seeds != null) {
      json.put("seeds", new JsonArray(new ArrayList<Object>(seeds)));
    }
    json.put("dnsName", dnsName).put("dnsPort", dnsPort).put("failureTimeout", failureTimeout)
      .put("pingInterval", pingInterval).put("voters", voters).put("requestTimeout", requestTimeout)
      .put("joinTimeout", joinTimeout).put("tick", tick).put("maxFrameSize", maxFrameSize);
    if (serializableAllowList != null) {
      json.put("serializableAllowList", new JsonArray(new ArrayList<Object>(serializableAllowList)));
    }
    json.put("secretFile", secretFile).put("insecure", insecure).put("failureDomain", failureDomain);
    json.fieldNames().removeIf(key -> json.getValue(key) == null);
    return json;
  }

  private static String jsonText(String key, Object value) {
    if (!(value instanceof String)) {
      throw new IllegalArgumentException("Cluster option " + key + " must be a string, not " + value);
    }
    return (String) value;
  }

  private static long jsonNumber(String key, Object value, long min, long max) {
    if (!(value instanceof Number) || value instanceof Double || value instanceof Float) {
      throw new IllegalArgumentException("Cluster option " + key + " must be a whole number, not " + value);
    }
    long n = ((Number) value).longValue();
    if (n < min || n > max) {
      throw new IllegalArgumentException("Cluster option " + key + " must be between " + min + " and " + max + ", not " + n);
    }
    return n;
  }

  private static List<String> jsonList(String key, Object value) {
    List<String> out = new ArrayList<>();
    if (value instanceof String) {
      for (String part : ((String) value).split(",")) {
        if (!part.trim().isEmpty()) {
          out.add(part.trim());
        }
      }
      return out;
    }
    if (!(value instanceof JsonArray)) {
      throw new IllegalArgumentException("Cluster option " + key + " must be an array of strings, not " + value);
    }
    for (Object item : (JsonArray) value) {
      out.add(jsonText(key, item));
    }
    return out;
  }

  public BopClusterOptions(BopClusterOptions other) {
    this.clusterName = other.clusterName;
    this.host = other.host;
    this.port = other.port;
    this.publicHost = other.publicHost;
    this.publicPort = other.publicPort;
    this.seeds = other.seeds == null ? null : new ArrayList<>(other.seeds);
    this.dnsName = other.dnsName;
    this.dnsPort = other.dnsPort;
    this.failureTimeout = other.failureTimeout;
    this.pingInterval = other.pingInterval;
    this.voters = other.voters;
    this.requestTimeout = other.requestTimeout;
    this.joinTimeout = other.joinTimeout;
    this.tick = other.tick;
    this.maxFrameSize = other.maxFrameSize;
    this.serializableAllowList = other.serializableAllowList == null ? null : new ArrayList<>(other.serializableAllowList);
    this.secret = other.secret;
    this.secretFile = other.secretFile;
    this.insecure = other.insecure;
    this.failureDomain = other.failureDomain;
  }

  public BopClusterOptions setClusterName(String clusterName) { this.clusterName = clusterName; return this; }
  public BopClusterOptions setHost(String host) { this.host = host; return this; }
  public BopClusterOptions setPort(int port) { this.port = port; return this; }
  /** The host other members (and other nodes' event buses) reach this node at: behind NAT, or to choose among several addresses with a wildcard host. */
  public BopClusterOptions setPublicHost(String publicHost) { this.publicHost = publicHost; return this; }
  /** The port other members reach this node at when it differs from the bound one (port forwarding). */
  public BopClusterOptions setPublicPort(int publicPort) { this.publicPort = publicPort; return this; }
  public BopClusterOptions setSeeds(List<String> seeds) { this.seeds = new ArrayList<>(seeds); return this; }
  public BopClusterOptions setDns(String name, int port) { this.dnsName = name; this.dnsPort = port; return this; }
  public BopClusterOptions setFailureTimeout(long millis) { this.failureTimeout = millis; return this; }
  public BopClusterOptions setPingInterval(long millis) { this.pingInterval = millis; return this; }
  public BopClusterOptions setVoters(int voters) { this.voters = voters; return this; }
  public BopClusterOptions setRequestTimeout(long millis) { this.requestTimeout = millis; return this; }
  public BopClusterOptions setJoinTimeout(long millis) { this.joinTimeout = millis; return this; }
  public BopClusterOptions setTick(long millis) { this.tick = millis; return this; }
  public BopClusterOptions setMaxFrameSize(long bytes) { this.maxFrameSize = bytes; return this; }
  public BopClusterOptions setSerializableAllowList(List<String> entries) { this.serializableAllowList = new ArrayList<>(entries); return this; }
  /** The cluster secret, at least 16 bytes (for example {@code openssl rand -base64 32}). */
  public BopClusterOptions setSecret(String secret) { this.secret = secret; return this; }
  /** A file holding the cluster secret; readable by the application's user only, preferably. */
  public BopClusterOptions setSecretFile(String path) { this.secretFile = path; return this; }
  /** Without a secret, run with no authentication at all: anyone reaching the port can join. */
  public BopClusterOptions setInsecure(boolean insecure) { this.insecure = insecure; return this; }
  /**
   * What fails together with this node, such as a rack or a zone: the leader keeps the voters in
   * separate domains where the members allow it. Unset, a node's domain is its JVM.
   */
  public BopClusterOptions setFailureDomain(String failureDomain) { this.failureDomain = failureDomain; return this; }

  public String getClusterName() { return text(clusterName, "clusterName", null, "vertx-bop"); }
  public String getHost() { return text(host, "host", "VERTX_CLUSTER_HOST", "127.0.0.1"); }
  public int getPort() { return number(port, "port", "VERTX_CLUSTER_PORT", 0, Integer::parseInt, 0, 65535); }
  /** The public host set, or null: then the host, or for a wildcard host this machine's one routable address. */
  public String getPublicHost() { return text(publicHost, "publicHost", "VERTX_CLUSTER_PUBLIC_HOST", null); }
  public int getPublicPort() { return number(publicPort, "publicPort", "VERTX_CLUSTER_PUBLIC_PORT", 0, Integer::parseInt, 0, 65535); }
  public List<String> getSeeds() { return list(seeds, "seeds"); }
  public String getDnsName() { return text(dnsName, "dnsName", null, null); }
  public int getDnsPort() { return number(dnsPort, "dnsPort", null, 0, Integer::parseInt, 0, 65535); }
  public long getFailureTimeout() { return number(failureTimeout, "timeout", "VERTX_CLUSTER_TIMEOUT", 20000L, Long::parseLong, 1L, Long.MAX_VALUE); }
  public long getPingInterval() { return number(pingInterval, "pingInterval", "VERTX_CLUSTER_PING_INTERVAL", 20000L, Long::parseLong, 1L, Long.MAX_VALUE); }
  public int getVoters() { return number(voters, "voters", null, 3, Integer::parseInt, 1, 99); }
  public long getRequestTimeout() { return number(requestTimeout, "requestTimeout", null, 10000L, Long::parseLong, 1L, Long.MAX_VALUE); }
  public long getJoinTimeout() { return number(joinTimeout, "joinTimeout", null, 30000L, Long::parseLong, 1L, Long.MAX_VALUE); }
  public long getTick() { return number(tick, "tick", null, 25L, Long::parseLong, 1L, 10000L); }
  public long getMaxFrameSize() { return number(maxFrameSize, "maxFrameSize", null, 16L * 1024 * 1024, Long::parseLong, 4096L, (long) Integer.MAX_VALUE); }
  public List<String> getSerializableAllowList() { return list(serializableAllowList, "serializableAllowList"); }
  public boolean isInsecure() { return flag(insecure, "insecure"); }
  /** The failure domain set, or null: this JVM. A blank one is an error, as in a property or a variable. */
  public String getFailureDomain() {
    if (failureDomain != null && failureDomain.trim().isEmpty()) {
      throw new IllegalArgumentException("Empty value for failureDomain (leave it unset for this JVM)");
    }
    return text(failureDomain, "failureDomain", "VERTX_CLUSTER_FAILURE_DOMAIN", null);
  }

  /** The cluster secret's bytes (UTF-8), or null when none is configured at any level. */
  public byte[] getSecret() {
    byte[] fromObject = secret(secret, "secret", secretFile, "secretFile");
    if (fromObject != null) {
      return fromObject;
    }
    byte[] fromProperties = secret(properties.apply("vertx.bop.secret"), "system property vertx.bop.secret",
      properties.apply("vertx.bop.secretFile"), "system property vertx.bop.secretFile");
    if (fromProperties != null) {
      return fromProperties;
    }
    return secret(environment.apply("VERTX_CLUSTER_SECRET"), "environment variable VERTX_CLUSTER_SECRET", null, null);
  }

  private static byte[] secret(String value, String valueName, String file, String fileName) {
    if (value != null && file != null) {
      throw new IllegalArgumentException("Both " + valueName + " and " + fileName + " are set: give the cluster secret once");
    }
    if (value != null) {
      if (value.trim().isEmpty()) {
        throw new IllegalArgumentException("Empty cluster secret in " + valueName);
      }
      return value.trim().getBytes(StandardCharsets.UTF_8);
    }
    if (file == null) {
      return null;
    }
    Path path = Paths.get(file.trim());
    String text;
    try {
      text = new String(Files.readAllBytes(path), StandardCharsets.UTF_8).trim();
    } catch (IOException | RuntimeException e) {
      throw new IllegalArgumentException("Cannot read the cluster secret file \"" + file + "\" (" + fileName + "): " + e, e);
    }
    if (text.isEmpty()) {
      throw new IllegalArgumentException("The cluster secret file \"" + file + "\" (" + fileName + ") is empty");
    }
    return text.getBytes(StandardCharsets.UTF_8);
  }

  private static boolean flag(Boolean set, String name) {
    if (set != null) {
      return set;
    }
    String raw = lookup(name, null);
    if (raw == null) {
      return false;
    }
    switch (raw.trim().toLowerCase(java.util.Locale.ROOT)) {
      case "true":
        return true;
      case "false":
        return false;
      default:
        throw new IllegalArgumentException("Invalid value \"" + raw + "\" for " + source(name, null) + ": expected true or false");
    }
  }

  /** Where settings come from when not set on the object; replaced in tests. */
  static Function<String, String> properties = System::getProperty;
  static Function<String, String> environment = System::getenv;

  private static String lookup(String name, String variable) {
    String value = properties.apply("vertx.bop." + name);
    if (value == null && variable != null) {
      value = environment.apply(variable);
    }
    return value;
  }

  private static String source(String name, String variable) {
    return properties.apply("vertx.bop." + name) != null || variable == null ? "system property vertx.bop." + name : "environment variable " + variable;
  }

  private static String text(String set, String name, String variable, String fallback) {
    if (set != null) {
      return set;
    }
    String value = lookup(name, variable);
    if (value != null && value.trim().isEmpty()) {
      throw new IllegalArgumentException("Empty value for " + source(name, variable));
    }
    return value == null ? fallback : value.trim();
  }

  private static <T extends Comparable<T>> T number(T set, String name, String variable, T fallback, Function<String, T> parse, T min, T max) {
    T value = set;
    if (value == null) {
      String raw = lookup(name, variable);
      if (raw == null) {
        return fallback;
      }
      try {
        value = parse.apply(raw.trim());
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("Invalid value \"" + raw + "\" for " + source(name, variable) + ": not a number");
      }
      if (value.compareTo(min) < 0 || value.compareTo(max) > 0) {
        throw new IllegalArgumentException("Invalid value \"" + raw + "\" for " + source(name, variable) + ": expected " + min + " to " + max);
      }
      return value;
    }
    if (value.compareTo(min) < 0 || value.compareTo(max) > 0) {
      throw new IllegalArgumentException("Invalid " + name + " " + value + ": expected " + min + " to " + max);
    }
    return value;
  }

  private static List<String> list(List<String> set, String name) {
    if (set != null) {
      return Collections.unmodifiableList(set);
    }
    String raw = lookup(name, null);
    if (raw == null || raw.trim().isEmpty()) {
      return Collections.emptyList();
    }
    List<String> out = new ArrayList<>();
    for (String part : raw.split(",")) {
      if (!part.trim().isEmpty()) {
        out.add(part.trim());
      }
    }
    return Collections.unmodifiableList(out);
  }

  @Override
  public String toString() {
    try {
      return "BopClusterOptions{clusterName=" + getClusterName() + ", host=" + getHost() + ", port=" + getPort()
        + ", seeds=" + getSeeds() + ", failureTimeout=" + getFailureTimeout() + ", voters=" + getVoters() + "}";
    } catch (IllegalArgumentException e) {
      return "BopClusterOptions{invalid: " + e.getMessage() + "}";
    }
  }

  @Override
  public boolean equals(Object o) {
    if (!(o instanceof BopClusterOptions)) {
      return false;
    }
    BopClusterOptions that = (BopClusterOptions) o;
    return Objects.equals(clusterName, that.clusterName) && Objects.equals(host, that.host) && Objects.equals(port, that.port)
      && Objects.equals(publicHost, that.publicHost) && Objects.equals(publicPort, that.publicPort)
      && Objects.equals(seeds, that.seeds) && Objects.equals(dnsName, that.dnsName) && Objects.equals(dnsPort, that.dnsPort)
      && Objects.equals(failureTimeout, that.failureTimeout) && Objects.equals(pingInterval, that.pingInterval)
      && Objects.equals(voters, that.voters) && Objects.equals(requestTimeout, that.requestTimeout)
      && Objects.equals(joinTimeout, that.joinTimeout) && Objects.equals(tick, that.tick)
      && Objects.equals(maxFrameSize, that.maxFrameSize) && Objects.equals(serializableAllowList, that.serializableAllowList)
      && Objects.equals(secret, that.secret) && Objects.equals(secretFile, that.secretFile) && Objects.equals(insecure, that.insecure)
      && Objects.equals(failureDomain, that.failureDomain);
  }

  @Override
  public int hashCode() {
    return Objects.hash(clusterName, host, port, seeds, dnsName, voters);
  }
}
