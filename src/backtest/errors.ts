// Why a backtest cannot run: bad input (named field) or more trades than the caller allows.

/** A bad backtest input; `field` names where, e.g. `alerts[2].threshold` or `from`. */
export class BacktestInputError extends Error {
  readonly code = 'BAD_USER_INPUT';
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
  }
}
