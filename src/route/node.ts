import { PART_CATCH_ALL, PART_PARAM, type PatternPart } from "./pattern.js";

/**
 * A radix tree node. Every node has the same shape (all fields set in the
 * constructor, never added later) so the lookup loop stays monomorphic.
 *
 * A node stands for the bytes of `prefix`, matched after its parent. Its
 * static children are told apart by their first byte (`indices[k]` is the
 * first byte of `children[k]`'s prefix). `param` is the node reached after a
 * `:param` value (a non-empty run of bytes up to the next '/'); its children
 * all begin with '/'. `catchAll` is the leaf reached by a `*name` that takes
 * the rest of the path, empty included.
 */
export class Node<R> {
  prefix: Uint8Array;
  indices: Uint8Array;
  children: Node<R>[];
  param: Node<R> | null;
  catchAll: Node<R> | null;
  route: R | null;

  constructor(prefix: Uint8Array) {
    this.prefix = prefix;
    this.indices = new Uint8Array(0);
    this.children = [];
    this.param = null;
    this.catchAll = null;
    this.route = null;
  }

  childByte(c: number): Node<R> | null {
    const idx = this.indices;
    for (let k = 0; k < idx.length; k++) if (idx[k] === c) return this.children[k]!;
    return null;
  }

  addChild(child: Node<R>): void {
    const idx = new Uint8Array(this.indices.length + 1);
    idx.set(this.indices);
    idx[this.indices.length] = child.prefix[0]!;
    this.indices = idx;
    this.children.push(child);
  }

  replaceChild(old: Node<R>, child: Node<R>): void {
    const k = this.children.indexOf(old);
    this.children[k] = child;
    this.indices[k] = child.prefix[0]!;
  }
}

function commonPrefix(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

/** Walks (and grows) static bytes `s` below `node`; returns the node that ends at them. */
function insertStatic<R>(node: Node<R>, s: Uint8Array): Node<R> {
  while (s.length > 0) {
    const child = node.childByte(s[0]!);
    if (child === null) {
      const leaf = new Node<R>(s.slice());
      node.addChild(leaf);
      return leaf;
    }
    const l = commonPrefix(child.prefix, s);
    if (l < child.prefix.length) {
      // Split: the shared head becomes a new node above the old child.
      const head = new Node<R>(child.prefix.slice(0, l));
      node.replaceChild(child, head);
      child.prefix = child.prefix.slice(l);
      head.addChild(child);
      node = head;
    } else {
      node = child;
    }
    s = s.subarray(l);
  }
  return node;
}

/**
 * Inserts a parsed pattern below `root` and returns the node where its route
 * belongs. The caller checks that node's `route` for a duplicate.
 */
export function insertPattern<R>(root: Node<R>, parts: readonly PatternPart[]): Node<R> {
  let node = root;
  for (const part of parts) {
    if (part.kind === PART_PARAM) {
      if (node.param === null) node.param = new Node<R>(new Uint8Array(0));
      node = node.param;
    } else if (part.kind === PART_CATCH_ALL) {
      if (node.catchAll === null) node.catchAll = new Node<R>(new Uint8Array(0));
      node = node.catchAll;
    } else {
      node = insertStatic(node, part.bytes);
    }
  }
  return node;
}
