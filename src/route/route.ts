/**
 * One registered route: what a successful lookup hands to the app layer.
 *
 * `paramNames[i]` names the value at `match.params[2 * i] .. [2 * i + 1]`.
 * `handlers` is the final chain: group middleware (outermost group first)
 * followed by the handlers given at registration. `options` is whatever the
 * registrant passed; the router does not look at it.
 */
export class Route<H, O = unknown> {
  readonly method: string;
  readonly fullPath: string;
  readonly paramNames: readonly string[];
  readonly handlers: readonly H[];
  readonly options: O | undefined;

  constructor(method: string, fullPath: string, paramNames: readonly string[], handlers: readonly H[], options: O | undefined) {
    this.method = method;
    this.fullPath = fullPath;
    this.paramNames = Object.freeze(paramNames.slice());
    this.handlers = Object.freeze(handlers.slice());
    this.options = options;
  }

  /** Index of the param called `name`, or -1. */
  paramIndex(name: string): number {
    return this.paramNames.indexOf(name);
  }
}
