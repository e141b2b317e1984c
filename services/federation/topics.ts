/**
 * Topic layout, namespaced per node under the configured prefix:
 *   <prefix>/nodes/<nodeId>/manifest   retained signed manifest (QoS 1)
 *   <prefix>/nodes/<nodeId>/presence   retained "online"/"offline"; "offline" is also the last will
 *   <prefix>/nodes/<nodeId>/inbox      messages addressed to that node (QoS 1)
 */
export class Topics {
  constructor(readonly prefix: string) {}

  manifest(nodeId: string): string {
    return `${this.prefix}/nodes/${nodeId}/manifest`;
  }

  presence(nodeId: string): string {
    return `${this.prefix}/nodes/${nodeId}/presence`;
  }

  inbox(nodeId: string): string {
    return `${this.prefix}/nodes/${nodeId}/inbox`;
  }

  get allManifests(): string {
    return `${this.prefix}/nodes/+/manifest`;
  }

  get allPresence(): string {
    return `${this.prefix}/nodes/+/presence`;
  }

  /** Splits a topic into its node id and leaf, or null when it is not one of ours. */
  parse(topic: string): { nodeId: string; leaf: "manifest" | "presence" | "inbox" } | null {
    if (!topic.startsWith(`${this.prefix}/nodes/`)) return null;
    const rest = topic.slice(this.prefix.length + 7).split("/");
    if (rest.length !== 2 || !rest[0]) return null;
    const leaf = rest[1];
    if (leaf !== "manifest" && leaf !== "presence" && leaf !== "inbox") return null;
    return { nodeId: rest[0], leaf };
  }
}
