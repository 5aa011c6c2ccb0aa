import { describeAirflow } from "./airflow-suite.js";

describeAirflow("airflow-2", "2.11.2");
