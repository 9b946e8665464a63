/**
 * Given/when/then for pure deciders (Emmett style): `given` the history, `when` a command,
 * `then` the expected decision, or `thenThrows` the expected ParleyError code.
 */
export class DeciderSpecification<G, C, R> {
  private constructor(private readonly decide: (given: G, command: C) => R) {}

  /** A specification over a decide function that folds `given` itself. */
  static for<G, C, R>(decider: { decide: (given: G, command: C) => R }): DeciderSpecification<G, C, R> {
    return new DeciderSpecification(decider.decide);
  }

  /** The history the command is decided against. */
  given(given: G) {
    return {
      when: (command: C) => ({
        /** The decision equals `expected` (asymmetric matchers allowed). */
        then: (expected: unknown) => expect(this.decide(given, command)).toEqual(expected),
        /** The decision is refused with a ParleyError carrying `code`. */
        thenThrows: (code: string) => {
          let thrown: unknown;
          try {
            this.decide(given, command);
          } catch (err) {
            thrown = err;
          }
          expect(thrown).toBeDefined();
          expect((thrown as { code?: string }).code).toBe(code);
        },
      }),
    };
  }
}
