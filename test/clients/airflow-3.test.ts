import { describeAirflow } from "./airflow-suite.js";

describeAirflow("airflow-3", "3.3.2");
